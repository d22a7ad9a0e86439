using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Shaper.Tests.Lab;

namespace Shaper.Benchmarks;

/// <summary>
/// Issue 5: shaperd itself, in a namespace lab (shaperd in one namespace, tcpreplay in the other):
/// detection-to-block latency with 1,000 offenders crossing an observe rule's limit at once, as the daemon
/// measures it (capture timestamp of the crossing packet to the kernel's acknowledgement of the batch that
/// holds its block); the fastest replay rate that live capture takes with no drop anywhere (libpcap's
/// counters, the hand-off ring, and every packet counted by the engine); and peak RSS under a flood of
/// 1,000,000 random spoofed sources.
/// </summary>
internal static class DaemonBenchmark
{
    private const int Offenders = 1_000;

    private const string BlockRule = """
        [[rule]]
        name = "udp-flood"
        match = { proto = "udp", dport = [9000] }
        algorithm = "token_bucket"
        rate = "1/minute"
        burst = 5
        enforce = "observe"
        action = "block"
        block_for = "10m"
        """;

    private const string FloodRule = """
        [[rule]]
        name = "udp-flood"
        match = { proto = "udp", dport = [9000] }
        rate = "10/s"
        burst = 20
        enforce = "observe"
        action = "log"
        """;

    private const string CountRule = """
        [[rule]]
        name = "udp-count"
        match = { proto = "udp", dport = [9000] }
        rate = "1000000/s"
        burst = 1000000
        enforce = "observe"
        action = "log"
        """;

    public static JsonObject? Run(BenchOptions options)
    {
        if (Environment.UserName != "root")
        {
            Console.WriteLine("daemon: skipped, needs root (it creates network namespaces)");
            return null;
        }

        var result = new JsonObject();
        DetectToBlock(result);
        CapturePps(options, result);
        FloodRss(options, result);
        return result;
    }

    /// <summary>
    /// 1,000 sources each send their burst of 5 over half a second; then each sends one more, all at top speed
    /// (the refill, 1 a minute, cannot rescue the sixth). Every sixth packet crosses the limit.
    /// </summary>
    private static void DetectToBlock(JsonObject result)
    {
        using var lab = NetworkLab.Create();
        using var daemon = DaemonProcess.Start(lab.B, BlockRule, Interface());
        var bursts = new List<TrafficPcap.Udp>();
        for (var k = 0; k < 5; k++)
        {
            for (var s = 0; s < Offenders; s++)
            {
                bursts.Add(new(((k * Offenders) + s) * 100_000L, Source(s), 9000));
            }
        }

        Replay(lab, daemon, bursts, [], TimeSpan.FromSeconds(5), r => r["engine_packets"]!.GetValue<long>() >= bursts.Count);
        var crossings = Enumerable.Range(0, Offenders).Select(s => new TrafficPcap.Udp(s * 1_000L, Source(s), 9000)).ToList();
        var status = Replay(lab, daemon, crossings, ["--topspeed"], TimeSpan.FromSeconds(5), r => r["detect_to_block_count"]!.GetValue<long>() >= Offenders);
        var set = JsonNode.Parse(lab.Exec(lab.B, "nft", "-j", "list", "set", "inet", "shaper", "block_v4").Output)!["nftables"]![1]!["set"]!;
        var inKernel = set["elem"]?.AsArray().Count ?? 0;
        result["detect_to_block_p50_ms"] = status["detect_to_block_p50_ms"]!.GetValue<double>();
        result["detect_to_block_p99_ms"] = status["detect_to_block_p99_ms"]!.GetValue<double>();
        result["detect_to_block_samples"] = status["detect_to_block_count"]!.GetValue<long>();
        result["blocks_in_kernel"] = inKernel;
        Console.WriteLine($"daemon: {Offenders:N0} offenders crossing at once: detection to kernel block p50 {result["detect_to_block_p50_ms"]} ms, p99 {result["detect_to_block_p99_ms"]} ms ({inKernel} blocks in the kernel set)");
    }

    /// <summary>Replays the same pcap at rising rates; the highest with nothing dropped and every packet counted wins.</summary>
    private static void CapturePps(BenchOptions options, JsonObject result)
    {
        var count = options.Quick ? 100_000 : 400_000;
        var pcap = Path.Combine(Path.GetTempPath(), $"shaper-bench-capture-{Environment.ProcessId}.pcap");
        TrafficPcap.Write(pcap, Enumerable.Range(0, count).Select(i => new TrafficPcap.Udp(i * 1_000L, Source(i % 10_000), 9000)));
        long best = 0;
        var rates = new JsonArray();
        try
        {
            foreach (var pps in options.Quick ? new[] { 50_000, 0 } : [25_000, 50_000, 100_000, 0])
            {
                using var lab = NetworkLab.Create();
                using var daemon = DaemonProcess.Start(lab.B, CountRule, Interface());
                // The last step (0) is as fast as tcpreplay sends.
                var sent = lab.Exec(lab.A, "tcpreplay", "-q", "-i", "va", pps == 0 ? "--topspeed" : $"--pps={pps}", pcap);
                var status = WaitForStatus(daemon, TimeSpan.FromSeconds(3), r => r["engine_packets"]!.GetValue<long>() >= count);

                var captured = status["captured"]!.GetValue<long>();
                var dropped = status["capture_dropped"]!.GetValue<long>() + status["handoff_dropped"]!.GetValue<long>();
                var engine = status["engine_packets"]!.GetValue<long>();
                var achieved = ParseAchievedPps(sent.Output + sent.Error);
                var clean = sent.ExitCode == 0 && dropped == 0 && engine == count;
                rates.Add(new JsonObject { ["asked_pps"] = pps, ["sent_pps"] = achieved, ["captured"] = captured, ["engine"] = engine, ["dropped"] = dropped });
                Console.WriteLine($"daemon: capture at {(pps == 0 ? "top speed" : pps.ToString("N0", CultureInfo.InvariantCulture) + " pps")} asked ({achieved:N0} sent): {engine:N0} of {count:N0} reached the engine, {dropped} dropped");
                if (!clean)
                {
                    break;
                }

                best = (long)achieved;
            }
        }
        finally
        {
            File.Delete(pcap);
        }

        result["capture_pps_no_drop"] = best;
        result["capture_rates"] = rates;
    }

    /// <summary>1,000,000 random spoofed sources at top speed against a rule whose table holds 65,536 keys.</summary>
    private static void FloodRss(BenchOptions options, JsonObject result)
    {
        const int MaxKeys = 65_536;
        var count = options.Quick ? 300_000 : 1_000_000;
        var pcap = Path.Combine(Path.GetTempPath(), $"shaper-bench-flood-{Environment.ProcessId}.pcap");
        TrafficPcap.Write(pcap, TrafficPcap.SpoofedFlood(count));
        try
        {
            using var lab = NetworkLab.Create();
            using var daemon = DaemonProcess.Start(lab.B, FloodRule, Interface() + $"\nmax_keys = {MaxKeys}");
            var before = daemon.RssBytes();
            lab.Exec(lab.A, "tcpreplay", "-q", "-i", "va", "--topspeed", pcap);
            Thread.Sleep(1000);
            var rule = daemon.SendAsync("counters", new() { ["top"] = 0 }).GetAwaiter().GetResult().Result!["rules"]![0]!;
            var peak = daemon.PeakRssBytes();
            result["flood_sources"] = count;
            result["flood_max_keys"] = MaxKeys;
            result["flood_keys_tracked"] = rule["keys_tracked"]!.GetValue<int>();
            result["flood_evictions"] = rule["evictions"]!.GetValue<long>();
            result["flood_rss_before_mb"] = Math.Round(before / 1048576.0, 1);
            result["flood_peak_rss_mb"] = Math.Round(peak / 1048576.0, 1);
            Console.WriteLine($"daemon: flood of {count:N0} spoofed sources, table of {MaxKeys:N0}: {result["flood_keys_tracked"]} keys tracked, {result["flood_evictions"]} evictions, RSS {result["flood_rss_before_mb"]} MB before, peak {result["flood_peak_rss_mb"]} MB");
        }
        finally
        {
            File.Delete(pcap);
        }
    }

    private static JsonNode Replay(NetworkLab lab, DaemonProcess daemon, List<TrafficPcap.Udp> packets, string[] extra, TimeSpan wait, Func<JsonNode, bool> done)
    {
        var pcap = Path.Combine(Path.GetTempPath(), $"shaper-bench-{Environment.ProcessId}.pcap");
        TrafficPcap.Write(pcap, packets);
        try
        {
            var sent = lab.Exec(lab.A, "tcpreplay", ["-q", "-i", "va", .. extra, pcap]);
            if (sent.ExitCode != 0)
            {
                throw new InvalidOperationException("tcpreplay: " + sent.Error);
            }

            return WaitForStatus(daemon, wait, done);
        }
        finally
        {
            File.Delete(pcap);
        }
    }

    /// <summary>Polls the daemon's status every 50 ms until <paramref name="done"/> holds or <paramref name="wait"/> passes; the last status.</summary>
    private static JsonNode WaitForStatus(DaemonProcess daemon, TimeSpan wait, Func<JsonNode, bool> done)
    {
        var watch = Stopwatch.StartNew();
        JsonNode status;
        do
        {
            Thread.Sleep(50);
            status = daemon.SendAsync("status").GetAwaiter().GetResult().Result!;
        }
        while (!done(status) && watch.Elapsed < wait);

        return status;
    }

    /// <summary>tcpreplay's own report: "Rated: 1234.5 Bps, 0.01 Mbps, 99999.12 pps".</summary>
    private static double ParseAchievedPps(string report)
    {
        foreach (var line in report.Split('\n'))
        {
            var at = line.IndexOf(" pps", StringComparison.Ordinal);
            if (line.TrimStart().StartsWith("Rated:", StringComparison.Ordinal) && at > 0)
            {
                var start = line.LastIndexOf(',', at) + 1;
                return double.Parse(line[start..at].Trim(), CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    private static string Interface() => $"interface = \"{NetworkLab.ReceiverInterface}\"";

    /// <summary>198.18.100.0 upward: inside the lab's 198.18.0.0/15.</summary>
    private static uint Source(int i) => 0xC6126400u + (uint)i;
}
