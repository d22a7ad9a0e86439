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
    public Task Drop_SlidingLogTwentySources_EachGetsThroughWhatTheLogAllows() => DropTwentySourcesAsync(reloads: 0);

    /// <summary>Issue 11: a reload of an unchanged observe rule keeps its key tables and its drop set, so no source gets a fresh log.</summary>
    [RootFact]
    public Task Drop_TenReloadsMidTraffic_NoSourceGetsMoreThanTheLogAllows() => DropTwentySourcesAsync(reloads: 10);

    /// <summary>
    /// 20 sources at 100 packets a second for 5 s against a sliding log of 30 per second with action drop, and
    /// <paramref name="reloads"/> reloads of the same file while they send. Each source must get through at least what
    /// the sliding log allows (the replay engine over the packets as they arrived) minus 2, and at most that plus two
    /// packets per time it crossed its limit (the packet that crosses has passed the kernel before the engine sees it;
    /// see below for the second). Which packets got through is known packet by packet, and printed.
    /// </summary>
    private async Task DropTwentySourcesAsync(int reloads)
    {
        using var lab = NetworkLab.Create();
        Tally.Install(lab);
        var rule = SlidingLogRule.Replace("{0}", "drop", StringComparison.Ordinal);
        using var daemon = DaemonProcess.Start(lab.B, rule, $"interface = \"{NetworkLab.ReceiverInterface}\"");
        var directory = Directory.CreateTempSubdirectory("shaper-drop-").FullName;
        var pcap = Path.Combine(directory, "send.pcap");
        var sent = Path.Combine(directory, "sent.pcap");
        var arrived = Path.Combine(directory, "arrived.pcap");
        try
        {
            // Each source: 100 packets a second for 5 s, the sources interleaved 0.5 ms apart.
            // Each packet of a source has its own source port (10000 + its number), so the test knows which ones got through.
            TrafficPcap.Write(pcap, Enumerable.Range(0, Seconds * PerSecond).SelectMany(k => Enumerable.Range(0, Sources).Select(s =>
                new TrafficPcap.Udp((k * 10_000_000L) + (s * 500_000L), 0xC6121400u + (uint)s, 9000, SourcePort: (ushort)(10_000 + k)))));
            Run.Command("ip", ["netns", "exec", lab.B, "nft", "-f", "-"], PortTally).EnsureSuccess("installing the per-packet tally");

            // What went out, with the sender's own timestamps: a capture on the sender's side of the veth.
            var reloaded = new List<(TimeSpan At, TimeSpan Took)>();
            TimeSpan sendingTook;
            // And what arrived, on the receiver's side, with the kernel's arrival timestamps: the times the daemon decides by.
            using (var sender = SenderCapture.Start(lab, sent))
            using (var receiver = SenderCapture.Start(lab, arrived, onReceiver: true))
            {
                var sending = Stopwatch.StartNew();
                var replay = Task.Run(() => lab.Exec(lab.A, "tcpreplay", "-q", "-i", "va", pcap));
                if (reloads > 0)
                {
                    // Spread over the first 4 s of the 5 s of traffic, each answered before the next.
                    for (var i = 0; i < reloads; i++)
                    {
                        var due = TimeSpan.FromMilliseconds(200 + (i * 400));
                        if (sending.Elapsed < due)
                        {
                            await Task.Delay(due - sending.Elapsed);
                        }

                        var at = sending.Elapsed;
                        var answer = await daemon.SendAsync("reload");
                        Assert.True(answer.Ok, answer.Error);
                        Assert.Contains("no rule reset", answer.Result!["message"]!.GetValue<string>(), StringComparison.Ordinal);
                        reloaded.Add((at, sending.Elapsed - at));
                    }
                }

                var result = await replay;
                sendingTook = sending.Elapsed;
                Assert.True(result.ExitCode == 0, result.Error);
            }

            output.WriteLine($"sending took {sendingTook.TotalSeconds:F2} s; reloads at (took): {string.Join(", ", reloaded.Select(r => $"{r.At.TotalSeconds:F2} s ({r.Took.TotalMilliseconds:F0} ms)"))}");
            // Each reload was answered while the sources were still sending.
            Assert.All(reloaded, r => Assert.True(r.At + r.Took < sendingTook, $"a reload ended at {(r.At + r.Took).TotalSeconds:F2} s, after the sending ({sendingTook.TotalSeconds:F2} s)"));

            // What the sliding log allows each source, through the replay engine, over the packets as they arrived: the times
            // the daemon decides by. The same over the sender's own timestamps is printed beside it (equal in the runs here;
            // a veth that delivers some packets later than others under load could move one across a log entry's expiry).
            var config = ConfigLoader.Parse($"[daemon]\ninterface = \"{NetworkLab.ReceiverInterface}\"\n{rule}", "rule.toml").Config!;
            var allowed = Allowed(config, arrived);
            var allowedBySender = Allowed(config, sent);

            // How often each source crossed its limit on the arrival timestamps: a packet the log refused while its key was not
            // in the drop set. The set can only stop the packets after it (and a refusal that would pass again within
            // 1 ms puts nothing in the set), so each crossing may get one packet more through than the log allows.
            var crossings = new Dictionary<string, int>(StringComparer.Ordinal);
            var crossedAt = new List<(string Key, long At)>();
            var heldPackets = new Dictionary<(string Key, int Port), (long SinceNs, long LeftNs)>();
            var through = PortTallyRead(lab);
            using (var source = ReplaySources.Open(arrived))
            {
                var engine = new RuleEngine(CompiledRuleSet.Compile(config), 1024);
                var heldUntil = new Dictionary<string, long>(StringComparer.Ordinal);
                engine.KeyHeld += hold => heldUntil[hold.Key.ToString()] = hold.UntilNs;
                var limited = 0L;
                while (source.TryRead(out var packet))
                {
                    var key = new HeldKey(packet.Family, packet.Source, 32, 0, KeyKind.Source).ToString();
                    var held = heldUntil.TryGetValue(key, out var until) && packet.TimestampNs < until;
                    if (held)
                    {
                        var since = crossedAt.FindLast(c => c.Key == key).At;
                        heldPackets[(key, packet.SourcePort)] = (packet.TimestampNs - since, until - packet.TimestampNs);
                    }

                    engine.Process(packet);
                    var now = engine.Report(packet.TimestampNs)[0].Limited;
                    if (now > limited && !held)
                    {
                        crossings[key] = crossings.GetValueOrDefault(key) + 1;
                        crossedAt.Add((key, packet.TimestampNs));
                    }

                    limited = now;
                }
            }

            Assert.Equal(Sources, allowed.Count);

            var tally = Tally.Read(lab);
            var status = (await daemon.SendAsync("status")).Result!;
            output.WriteLine($"status: {status.ToJsonString()}");
            output.WriteLine($"detect to hold p50 {status["detect_to_hold_p50_ms"]} ms, p99 {status["detect_to_hold_p99_ms"]} ms; holds {status["holds_installed"]}");
            // The kernel cannot stop a packet that arrives before the key is in the drop set. The tight bound (what the log
            // allows, plus one packet per crossing, plus the packets that arrived within the daemon's measured hold latency
            // after a crossing) is printed for each source; asserted is what the log allows minus 2 to plus two packets per
            // crossing and those arrivals (CI, 10 reloads: 183 of 166 allowed with 8 crossings, one over two per crossing
            // alone): on this 2-core machine shared with other work, the holds of a round of crossings (the 20 sources
            // cross within 10 ms of each other) have been measured reaching the kernel up to 50 ms late, more than the
            // daemon's p99 shows, letting 1 to 5 more packets of every source through. A reload that handed out a fresh log
            // would let 30 more through per source and reload.
            var holdLatencyNs = (long)(status["detect_to_hold_p99_ms"]!.GetValue<double>() * 1e6);
            var failures = new List<string>();
            var tight = 0;
            for (var s = 0; s < Sources; s++)
            {
                var source = $"198.18.20.{s}";
                var received = tally.GetValueOrDefault(source);
                var may = allowed[source];
                var crossed = crossings.GetValueOrDefault(source);
                var early = heldPackets.Count(h => h.Key.Key == source && h.Value.SinceNs <= holdLatencyNs);
                tight += received <= may + crossed + early ? 1 : 0;
                var held = heldPackets.Where(h => h.Key.Key == source && through.Contains((source, h.Key.Port))).Select(h => $"#{h.Key.Port - 10_000} {h.Value.SinceNs / 1e6:F1} ms after the crossing, {h.Value.LeftNs / 1e6:F1} ms before the release").ToList();
                output.WriteLine($"{source}: received {received}, the sliding log allows {may} of {Seconds * PerSecond} ({allowedBySender[source]} by the sender's timestamps), crossing its limit {crossed} times, {early} arrivals within {holdLatencyNs / 1e6:F1} ms after a crossing: {received - may:+0;-0;0} against the log, tight bound {(received <= may + crossed + early ? "met" : "missed")}");
                output.WriteLine($"  {held.Count} got through while their key was held: {string.Join("; ", held)}");
                if (received < may - 2 || received > may + (2 * crossed) + early)
                {
                    failures.Add($"{source}: received {received}, allowed {may}, crossings {crossed}");
                }
            }

            output.WriteLine($"{tight} of {Sources} sources within the tight bound");
            if (failures.Count > 0)
            {
                output.WriteLine(daemon.Log);
            }

            Assert.True(failures.Count == 0, string.Join("; ", failures));
            // Every source was held. The daemon holds once per crossing it sees on its own capture's timestamps, which
            // differ from the sender's, and a crossing while a hold of the key is still on its way extends that one, so
            // the count is not the sender's (seen idle: 138 holds for the sender's 186 crossings, every source within
            // the bound above); what the holds achieved is the bound on what got through.
            Assert.True(status["holds_installed"]!.GetValue<long>() >= Sources, $"{status["holds_installed"]} holds for {Sources} sources ({crossings.Values.Sum()} crossings on the sender's timestamps)");
            Assert.Equal(0, status["holds_refused"]!.GetValue<long>());
            Assert.Equal(reloads, status["reloads_ok"]!.GetValue<long>());

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

    /// <summary>What the rule of <paramref name="config"/> lets through from each source of <paramref name="pcap"/>, by the replay engine.</summary>
    private static Dictionary<string, long> Allowed(ShaperConfig config, string pcap)
    {
        using var source = ReplaySources.Open(pcap);
        var replayed = ReplayRunner.Run(CompiledRuleSet.Compile(config), source, TimeProvider.System);
        return replayed.Rules.Single().Keys.ToDictionary(k => k.Key, k => (long)k.Counters.Passed);
    }

    /// <summary>A table of the test's own counting each packet that got through by its source address and port.</summary>
    private const string PortTally = """
        table inet porttally {
            set seen { type ipv4_addr . inet_service; size 65536; flags dynamic; }
            chain input {
                type filter hook input priority 0; policy accept;
                udp dport 9000 add @seen { ip saddr . udp sport }
            }
        }
        """;

    private static HashSet<(string Source, int Port)> PortTallyRead(NetworkLab lab)
    {
        var json = lab.Exec(lab.B, "nft", "-j", "list", "set", "inet", "porttally", "seen").EnsureSuccess("reading the per-packet tally").Output;
        var seen = new HashSet<(string, int)>();
        foreach (var item in System.Text.Json.Nodes.JsonNode.Parse(json)!["nftables"]!.AsArray())
        {
            foreach (var elem in item?["set"]?["elem"]?.AsArray() ?? [])
            {
                var concat = elem!["concat"]!.AsArray();
                seen.Add((concat[0]!.GetValue<string>(), concat[1]!.GetValue<int>()));
            }
        }

        return seen;
    }

    [GeneratedRegex(@"rule udp-noise: key (\S+) over its limit, logged \((\d+) limited")]
    private static partial Regex OverLimitLine();
}
