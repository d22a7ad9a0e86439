using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Daemon;

/// <summary>
/// Three shaperd, each in its own namespace lab, share one redis-server in a fourth namespace (a veth pair from each
/// daemon's namespace to it). One client is spread evenly over them at three times a fleet limit; the same traffic
/// with scope = "host" is the baseline. What the daemons admitted is what got through their kernels (a tally behind
/// the shaper's table), and what one limiter would admit comes from the replay engine over the packets as they left
/// the three senders (a capture on each sender's side), merged in time.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class FleetThreeDaemonTests(ITestOutputHelper output)
{
    private const string Rule = """
        [fleet]
        redis = "{redis}"
        host = "{host}"
        sync = "100ms"
        hosts = 3
        [[rule]]
        name = "fleet-tb"
        match = { proto = "udp" }
        {sizing}
        enforce = "observe"
        action = "drop"
        scope = "{scope}"
        """;

    [RootTheory]
    [InlineData("token_bucket", "rate = \"100/s\"\nburst = 20")] // one limiter over 3 s at an even pace: 20 + 100 × 3
    [InlineData("sliding_window", "algorithm = \"sliding_window\"\nlimit = 100\nwindow = \"1s\"")] // 100 a second
    public async Task ThreeDaemons_OneClientSpreadEvenly_FleetAdmitsWhatOneLimiterWould(string algorithm, string sizing)
    {
        var fleet = await RunAsync("fleet", sizing);
        var host = await RunAsync("host", sizing);
        foreach (var (scope, run) in new[] { ("fleet", fleet), ("host", host) })
        {
            output.WriteLine($"{algorithm}, scope = \"{scope}\": through the kernels {run.Through.Sum()} ({string.Join(" + ", run.Through)}), the engines passed {run.Passed.Sum()} ({string.Join(" + ", run.Passed)}); one limiter over the three senders' packets as sent {run.One} ({run.Through.Sum() / (double)run.One - 1:+0.0%;-0.0%}), three limiters each over one sender's {run.EachAlone}; sending took {run.SpanMs:F0} ms");
        }

        // The three senders take longer than 3 s on this busy machine (3.1 to 5.9 s seen): one limiter is run over the
        // packets as they left them, merged in time, and what got through is counted behind the daemons' kernels. The
        // fleet lets through what one limiter would, within 5 % either way (ten runs at load 3 to 12: -4.0 % to +1.7 %;
        // with three busy loops beside it, sync p99 up to 327 ms: -0.5 % and +0.3 %; with six, load 10, sync p99 up to
        // 553 ms and the breakers flapping: -2.0 % and -0.4 %). Each grant is the host's share of
        // the room until its next round, and a key whose grant is overdue (a late round) goes on at the rate the store
        // set aside for this host instead of staying held (before: -3.0 % to -5.1 % in two runs at load 8 to 13).
        // The kernels let through what the engines passed: a packet that got past a kernel before its key's hold
        // was in counts as passed there too, and as a hit for the store (at load 15 with four busy loops beside it: the
        // kernels 437, the engines 435; before, 514 against 432).
        Assert.InRange(fleet.Passed.Sum(), fleet.One * 0.95, fleet.One * 1.05);
        Assert.InRange(fleet.Through.Sum(), fleet.One * 0.95, fleet.One * 1.05);

        // With scope = "host" each daemon limits alone: what got through is what three limiters, each over its own
        // sender's packets, let through. At the senders' pace (3 s) that is all of it, about 3 times what one limiter
        // lets through. A sender slowed by a busy machine stays nearer the one limiter's rate, so the merged traffic is
        // less over it, and the ratio smaller (printed: the replays of this run's own packets are the baseline).
        output.WriteLine($"scope = \"host\": {host.Through.Sum() / (double)host.One:F2} × one limiter over the same packets");
        Assert.InRange(host.Through.Sum(), host.EachAlone * 0.95, host.EachAlone * 1.05);
    }

    private sealed record Outcome(long[] Through, long[] Passed, long One, long EachAlone, double SpanMs);

    private async Task<Outcome> RunAsync(string scope, string sizing)
    {
        var daemons = new List<DaemonProcess>();
        var pcap = Path.Combine(Path.GetTempPath(), $"shaper-fleet3-{Environment.ProcessId}.pcap");
        var sent = Enumerable.Range(0, 3).Select(i => Path.Combine(Path.GetTempPath(), $"shaper-fleet3-{Environment.ProcessId}-sent{i}.pcap")).ToArray();
        using var fleetLab = FleetLab.Create(3);
        var labs = fleetLab.Labs;
        try
        {
            for (var i = 0; i < 3; i++)
            {
                Tally.Install(labs[i]);
                var rule = Rule.Replace("{redis}", FleetLab.Endpoint(i), StringComparison.Ordinal)
                    .Replace("{host}", $"h{i}", StringComparison.Ordinal)
                    .Replace("{scope}", scope, StringComparison.Ordinal)
                    .Replace("{sizing}", sizing, StringComparison.Ordinal);
                daemons.Add(DaemonProcess.Start(labs[i].B, rule, $"interface = \"{NetworkLab.ReceiverInterface}\""));
            }

            // Warm-up, from another source (its own key): a daemon's first store calls are slow (the JIT, the connection,
            // the script's first load), and a breaker they open would put the measurement in share-only mode. Each
            // daemon sends a few syncs and its breaker is closed before the client starts; the warm-up's passes are
            // subtracted below.
            TrafficPcap.Write(pcap, Enumerable.Range(0, 40).Select(k => new TrafficPcap.Udp(k * 25_000_000L, 0xC6121401u, 9000)));
            foreach (var warm in await Task.WhenAll(labs.Select(lab => Task.Run(() => lab.Exec(lab.A, "tcpreplay", "-q", "-i", "va", pcap)))))
            {
                Assert.True(warm.ExitCode == 0, warm.Error);
            }

            var before = new long[3];
            for (var i = 0; i < 3; i++)
            {
                var waited = System.Diagnostics.Stopwatch.StartNew();
                while (scope == "fleet")
                {
                    var state = (await daemons[i].SendAsync("fleet.status")).Result!;
                    if (state["breaker"]!.GetValue<string>() == "closed" && state["calls_successful"]!.GetValue<long>() >= 3)
                    {
                        break;
                    }

                    Assert.True(waited.Elapsed < TimeSpan.FromSeconds(20), $"h{i} did not reach the store with its breaker closed: {state.ToJsonString()}");
                    await Task.Delay(100);
                }

                before[i] = (await daemons[i].SendAsync("counters")).Result!["rules"]![0]!["passed"]!.GetValue<long>();
            }

            // A third of the client's 300 packets a second to each daemon, for 3 s, all at once.
            TrafficPcap.Write(pcap, Enumerable.Range(0, 300).Select(k => new TrafficPcap.Udp(k * 10_000_000L, 0xC6121400u, 9000)));
            var captures = labs.Select((lab, i) => SenderCapture.Start(lab, sent[i], "udp and dst port 9000 and src host 198.18.20.0")).ToList();
            try
            {
                var sends = labs.Select(lab => Task.Run(() => lab.Exec(lab.A, "tcpreplay", "-q", "-i", "va", pcap))).ToArray();
                foreach (var result in await Task.WhenAll(sends))
                {
                    Assert.True(result.ExitCode == 0, result.Error);
                }
            }
            finally
            {
                captures.ForEach(c => c.Dispose());
            }

            await Task.Delay(300); // the engines drain what capture handed over
            var passed = new long[3];
            for (var i = 0; i < 3; i++)
            {
                passed[i] = (await daemons[i].SendAsync("counters")).Result!["rules"]![0]!["passed"]!.GetValue<long>() - before[i];
                if (scope == "fleet")
                {
                    var fleet = (await daemons[i].SendAsync("fleet.status")).Result!;
                    // Shared, or share-only where a loaded machine's slow store calls opened the breaker mid-run (seen in CI):
                    // either way the fleet holds the client to about one limit, which is what is asserted.
                    var status = (await daemons[i].SendAsync("status")).Result!;
                    output.WriteLine($"h{i}: holds {status["holds_installed"]}, detect to hold p50 {status["detect_to_hold_p50_ms"]} ms, p99 {status["detect_to_hold_p99_ms"]} ms; {fleet.ToJsonString()}");
                    Assert.Contains(fleet["mode"]!.GetValue<string>(), (string[])["shared", "share_only"]);
                }
            }

            var tally = labs.Select(lab => Tally.Read(lab).GetValueOrDefault("198.18.20.0")).ToArray();
            var (oneLimiter, spanMs) = OneLimiter(sizing, sent);
            var eachAlone = sent.Sum(file => OneLimiter(sizing, [file]).Passed);
            return new Outcome(tally, passed, oneLimiter, eachAlone, spanMs);
        }
        finally
        {
            foreach (var daemon in daemons)
            {
                daemon.Dispose();
            }

            File.Delete(pcap);
            foreach (var file in sent)
            {
                File.Delete(file);
            }
        }
    }

    /// <summary>
    /// What one limiter of the rule (scope = "host", the whole limit) passes of the three senders' packets merged in the
    /// order and at the times they left the senders, and the time from the first to the last.
    /// </summary>
    private static (long Passed, double SpanMs) OneLimiter(string sizing, string[] sent)
    {
        var toml = $"[daemon]\ninterface = \"{NetworkLab.ReceiverInterface}\"\n" + Rule[Rule.IndexOf("[[rule]]", StringComparison.Ordinal)..]
            .Replace("{scope}", "host", StringComparison.Ordinal)
            .Replace("{sizing}", sizing, StringComparison.Ordinal);
        var parsed = Shaper.Rules.ConfigLoader.Parse(toml, "one.toml");
        Assert.True(parsed.Config is not null, string.Join("\n", parsed.Diagnostics));
        var packets = new List<Shaper.Packets.PacketMeta>();
        foreach (var file in sent)
        {
            using var source = Shaper.Replay.ReplaySources.Open(file);
            while (source.TryRead(out var packet))
            {
                packets.Add(packet);
            }
        }

        if (sent.Length > 1)
        {
            Console.WriteLine(string.Join("; ", sent.Select(file =>
            {
                using var source = Shaper.Replay.ReplaySources.Open(file);
                var (first, last, count) = (0L, 0L, 0);
                while (source.TryRead(out var packet))
                {
                    first = count++ == 0 ? packet.TimestampNs : first;
                    last = packet.TimestampNs;
                }

                return $"{count} sent from {(first % 100_000_000_000) / 1e6:F0} to {(last % 100_000_000_000) / 1e6:F0} ms";
            })));
        }

        packets.Sort((a, b) => a.TimestampNs.CompareTo(b.TimestampNs));
        var engine = new Shaper.Engine.RuleEngine(Shaper.Engine.CompiledRuleSet.Compile(parsed.Config!), 1024);
        foreach (var packet in packets)
        {
            engine.Process(packet);
        }

        var span = packets.Count > 1 ? (packets[^1].TimestampNs - packets[0].TimestampNs) / 1e6 : 0;
        return (engine.Report(packets.Count > 0 ? packets[^1].TimestampNs : 0)[0].Passed, span);
    }

}
