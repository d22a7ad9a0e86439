using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Shaper.Engine;
using Shaper.Replay;
using Shaper.Rules;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Daemon;

/// <summary>Observe rules acting through the kernel, in a namespace lab against the real kernel: drop sets and log lines.</summary>
[Collection(KernelTrafficCollection.Name)]
public sealed partial class ObserveActionTests(ITestOutputHelper output)
{
    private const int Sources = 20;
    private const int Seconds = 5;
    private const int PerSecond = 100;

    /// <summary>Capture to the key held in the kernel: the p99 measured here under load was 1.3 ms (status detect_to_hold_p99_ms).</summary>
    private const long HoldLatencyNs = 2_000_000;

    private const string SlidingLogRule = """
        [[rule]]
        name = "udp-log"
        match = { proto = "udp", dport = [9000] }
        algorithm = "sliding_log"
        limit = 30
        window = "1s"
        enforce = "observe"
        action = "{0}"
        """;

    [RootFact]
    public async Task Drop_SlidingLogTwentySources_EachGetsThroughWhatTheLogAllows()
    {
        using var lab = NetworkLab.Create();
        Tally.Install(lab);
        var rule = SlidingLogRule.Replace("{0}", "drop", StringComparison.Ordinal);
        using var daemon = DaemonProcess.Start(lab.B, rule, $"interface = \"{NetworkLab.ReceiverInterface}\"");
        var directory = Directory.CreateTempSubdirectory("shaper-drop-").FullName;
        var pcap = Path.Combine(directory, "send.pcap");
        var sent = Path.Combine(directory, "sent.pcap");
        try
        {
            // Each source: 100 packets a second for 5 s, the sources interleaved 0.5 ms apart.
            TrafficPcap.Write(pcap, Enumerable.Range(0, Seconds * PerSecond).SelectMany(k => Enumerable.Range(0, Sources).Select(s =>
                new TrafficPcap.Udp((k * 10_000_000L) + (s * 500_000L), 0xC6121400u + (uint)s, 9000))));

            // What went out, with the sender's own timestamps: a capture on the sender's side of the veth.
            using (var capture = SenderCapture.Start(lab, sent))
            {
                var replay = lab.Exec(lab.A, "tcpreplay", "-q", "-i", "va", pcap);
                Assert.True(replay.ExitCode == 0, replay.Error);
            }

            // What the sliding log allows each source from those timestamps, through the replay engine.
            var config = ConfigLoader.Parse($"[daemon]\ninterface = \"{NetworkLab.ReceiverInterface}\"\n{rule}", "rule.toml").Config!;
            Dictionary<string, long> allowed;
            using (var source = ReplaySources.Open(sent))
            {
                var replayed = ReplayRunner.Run(CompiledRuleSet.Compile(config), source, TimeProvider.System);
                allowed = replayed.Rules.Single().Keys.ToDictionary(k => k.Key, k => (long)k.Counters.Passed);
            }

            // How often each source crossed its limit (went from passing to refused) on those timestamps: each crossing
            // is a packet that passed the kernel before its key was in the set, so each may get one more through; so
            // may a packet the sender sent within HoldLatency after a crossing (a burst), before the set can hold the key.
            var crossings = new Dictionary<string, int>(StringComparer.Ordinal);
            var crossedAt = new List<(string Key, long At)>();
            var sentAt = new Dictionary<string, List<long>>(StringComparer.Ordinal);
            using (var source = ReplaySources.Open(sent))
            {
                var engine = new RuleEngine(CompiledRuleSet.Compile(config), 1024);
                engine.KeyHeld += hold =>
                {
                    crossings[hold.Key.ToString()] = crossings.GetValueOrDefault(hold.Key.ToString()) + 1;
                    crossedAt.Add((hold.Key.ToString(), hold.DetectedNs));
                };
                while (source.TryRead(out var packet))
                {
                    var key = new HeldKey(packet.Family, packet.Source, 32, 0, KeyKind.Source).ToString();
                    (sentAt.TryGetValue(key, out var times) ? times : sentAt[key] = []).Add(packet.TimestampNs);
                    engine.Process(packet);
                }
            }

            foreach (var (key, at) in crossedAt)
            {
                crossings[key] += sentAt[key].Count(t => t > at && t <= at + HoldLatencyNs);
            }

            Assert.Equal(Sources, allowed.Count);

            var tally = Tally.Read(lab);
            var status = (await daemon.SendAsync("status")).Result!;
            output.WriteLine($"status: {status.ToJsonString()}");
            var failures = new List<string>();
            for (var s = 0; s < Sources; s++)
            {
                var source = $"198.18.20.{s}";
                var through = tally.GetValueOrDefault(source);
                var may = allowed[source];
                var crossed = crossings.GetValueOrDefault(source);
                output.WriteLine($"{source}: received {through}, the sliding log allows {may} of {Seconds * PerSecond} sent, crossing its limit {crossedAt.Count(c => c.Key == source)} times ({crossed} with the packets sent within 2 ms after)");

                // At least what the log allows minus 2. At most that plus the crossing packets (each passed the kernel
                // before its key was in the set, as did any sent within 2 ms after it), and at most one more per crossing:
                // on this 2-core machine shared with other work, tcpreplay sends in bursts and the hold or its release
                // can come a packet late (measured: 3 to 8 over, for 36 to 47 crossings, under load).
                if (through < may - 2 || through > may + (2 * crossed))
                {
                    failures.Add($"{source}: received {through}, allowed {may}, crossings {crossed}");
                }
            }

            Assert.True(failures.Count == 0, string.Join("; ", failures));
            // One hold per crossing the daemon saw; its capture's timestamps differ a little from the sender's.
            Assert.True(status["holds_installed"]!.GetValue<long>() >= crossedAt.Count * 8 / 10, $"{status["holds_installed"]} holds for {crossedAt.Count} crossings");
            Assert.Equal(0, status["holds_refused"]!.GetValue<long>());

            // The drop set is not the block list: the operator's list stays empty.
            Assert.Empty((await daemon.SendAsync("block.list")).Result!["blocks"]!.AsArray());
        }
        finally
        {
            if (Environment.GetEnvironmentVariable("SHAPER_KEEP") is null) { Directory.Delete(directory, recursive: true); } else { output.WriteLine(directory); }
        }
    }

    [RootFact]
    public async Task Drop_HeldKey_CountersShowTheDropSetAndItsTimeLeft()
    {
        using var lab = NetworkLab.Create();
        var rule = SlidingLogRule.Replace("{0}", "drop", StringComparison.Ordinal).Replace("window = \"1s\"", "window = \"30s\"", StringComparison.Ordinal);
        using var daemon = DaemonProcess.Start(lab.B, rule, $"interface = \"{NetworkLab.ReceiverInterface}\"");
        var pcap = Path.Combine(Path.GetTempPath(), $"shaper-held-{Environment.ProcessId}.pcap");
        try
        {
            // One source, 40 packets 10 ms apart: 30 pass, the 31st puts it in the drop set for about 30 s.
            TrafficPcap.Write(pcap, Enumerable.Range(0, 40).Select(k => new TrafficPcap.Udp(k * 10_000_000L, 0xC6121400u, 9000)));
            var replay = lab.Exec(lab.A, "tcpreplay", "-q", "-i", "va", pcap);
            Assert.True(replay.ExitCode == 0, replay.Error);
            await Task.Delay(200); // the engine drains what capture handed over

            var key = (await daemon.SendAsync("counters")).Result!["rules"]![0]!["keys"]![0]!;
            output.WriteLine(key.ToJsonString());
            Assert.Equal("dropped", key["state"]!.GetValue<string>());
            Assert.InRange(key["state_left_ms"]!.GetValue<double>(), 20_000, 30_000);
            Assert.Equal(0, key["remaining"]!.GetValue<long>());
            Assert.Contains("198.18.20.0", lab.Exec(lab.B, "nft", "list", "set", "inet", "shaper", "drop_udp-log_v4").Output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(pcap);
        }
    }

    [RootFact]
    public async Task Log_ThousandSourceFlood_AtMostOneLinePerKeyPerWindow()
    {
        using var lab = NetworkLab.Create();
        var rule = """
            [[rule]]
            name = "udp-noise"
            match = { proto = "udp", dport = [9000] }
            rate = "1/s"
            burst = 2
            enforce = "observe"
            action = "log"
            """;
        using var daemon = DaemonProcess.Start(lab.B, rule, $"interface = \"{NetworkLab.ReceiverInterface}\"\nbackend = \"none\"");
        var pcap = Path.Combine(Path.GetTempPath(), $"shaper-logflood-{Environment.ProcessId}.pcap");
        try
        {
            // 1,000 spoofed sources, each sending 30 packets over 3 s (every source far over its 1/s): 30 rounds of the flood,
            // each round's 1,000 packets 50 µs apart.
            var flood = TrafficPcap.SpoofedFlood(1000).ToArray();
            TrafficPcap.Write(pcap, Enumerable.Range(0, 30).SelectMany(round => flood.Select(p => p with { TimeNs = (round * 100_000_000L) + (p.TimeNs * 50) })));
            var sending = Stopwatch.StartNew();
            var sent = lab.Exec(lab.A, "tcpreplay", "-q", "-i", "va", pcap);
            var took = sending.Elapsed;
            Assert.True(sent.ExitCode == 0, sent.Error);
            await Task.Delay(1000);

            var counters = (await daemon.SendAsync("counters", new() { ["top"] = 0 })).Result!["rules"]![0]!;
            var lines = OverLimitLine().Matches(daemon.Log).Select(m => (Key: m.Groups[1].Value, At: m.Groups[2].Value)).ToList();
            var perKey = lines.GroupBy(l => l.Key).ToDictionary(g => g.Key, g => g.Count());
            var limited = counters["limited"]!.GetValue<long>();
            output.WriteLine($"status {(await daemon.SendAsync("status")).Result!.ToJsonString()}; passed {counters["passed"]}");
            output.WriteLine($"limited {limited}, log lines {lines.Count} over {perKey.Count} keys, most for one key {perKey.Values.DefaultIfEmpty().Max()}, logged {counters["logged"]}");

            // Every source went over; each is logged, and at most once per one-second window: as many windows as the
            // sending took seconds (3 s of pcap; longer on a busy machine), one more for a start mid-window.
            var windows = (int)Math.Ceiling(took.TotalSeconds) + 1;
            output.WriteLine($"sending took {took.TotalSeconds:F2} s: at most {windows} lines per key");
            Assert.True(perKey.Count >= 990, $"only {perKey.Count} sources logged");
            Assert.All(perKey, k => Assert.InRange(k.Value, 1, windows));
            Assert.True(limited > lines.Count, $"{lines.Count} lines for {limited} limited packets");
            Assert.Equal(lines.Count, counters["logged"]!.GetValue<long>());
        }
        finally
        {
            File.Delete(pcap);
        }
    }

    [GeneratedRegex(@"rule udp-noise: key (\S+) over its limit, logged \((\d+) limited")]
    private static partial Regex OverLimitLine();
}
