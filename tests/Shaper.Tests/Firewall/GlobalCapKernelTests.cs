using System.Text.Json.Nodes;
using Shaper.Engine;
using Shaper.Replay;
using Shaper.Rules;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Firewall;

/// <summary>
/// The <c>[global]</c> cap in the kernel against the same cap in replay (the engine over the packets' own times), in
/// a namespace lab: a kernel rule and an observe rule draw from the one bucket, and the kernel drops what the replay
/// of the sender's own timestamps says is over it.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class GlobalCapKernelTests(ITestOutputHelper output)
{
    private const string Rules = """
        [global]
        rate = "100/s"
        burst = 20

        [[rule]]
        name = "k"
        match = { proto = "udp", dport = [9000] }
        rate = "1000/s"
        burst = 1000

        [[rule]]
        name = "o"
        match = { proto = "udp", dport = [9001] }
        algorithm = "sliding_log"
        limit = 1000
        window = "1s"
        enforce = "observe"
        action = "log"
        """;

    /// <summary>
    /// Observe rules alone: the engine sees every packet the cap covers, so the daemon's engine (status
    /// <c>global_limited</c>), the kernel (<c>c_global_limited</c>) and replay of the sender's timestamps all count the
    /// same packets over the cap, give or take the few whose times differ between the three.
    /// </summary>
    [RootFact]
    public async Task GlobalCap_ObserveRulesOnly_KernelEngineAndReplayAgree()
    {
        using var lab = NetworkLab.Create();
        var rules = Rules.Replace("name = \"k\"\nmatch = { proto = \"udp\", dport = [9000] }\nrate = \"1000/s\"\nburst = 1000", "name = \"k\"\nmatch = { proto = \"udp\", dport = [9000] }\nalgorithm = \"sliding_log\"\nlimit = 1000\nwindow = \"1s\"\nenforce = \"observe\"\naction = \"log\"", StringComparison.Ordinal);
        Assert.DoesNotContain("burst = 1000", rules, StringComparison.Ordinal);
        var (kernel, replayed, status) = await RunAsync(lab, rules);
        var engine = status["global_limited"]!.GetValue<long>();
        output.WriteLine($"over the cap: kernel {kernel}, engine {engine}, replay {replayed.GlobalLimited}");

        Assert.True(replayed.GlobalLimited > 100, $"the cap held back only {replayed.GlobalLimited}: the sender was too slow to test it");
        Assert.InRange(kernel, replayed.GlobalLimited!.Value - 5, replayed.GlobalLimited.Value + 5);
        Assert.InRange(engine, kernel - 5, kernel + 5);
    }

    [RootFact]
    public async Task GlobalCap_KernelAndObserveRule_KernelDropsWhatReplayCountsOverTheCap()
    {
        using var lab = NetworkLab.Create();
        var (kernel, replayed, _) = await RunAsync(lab, Rules);
        var expected = replayed.GlobalLimited!.Value;
        output.WriteLine($"sent {replayed.Packets}; over the cap: kernel {kernel}, replay {expected}; passed k {replayed.Rules[0].Passed}, o {replayed.Rules[1].Passed}");

        Assert.True(expected > 100, $"the cap held back only {expected}: the sender was too slow to test it"); // 2 s at 400/s: about 580
        // The kernel stamps a packet a little after the sender's side: a token that refilled in between lets one
        // more through, or one fewer; a few packets either way, never the size of the bucket.
        Assert.InRange(kernel, expected - 5, expected + 5);
    }

    /// <summary>A queue rule is held to the cap in the kernel before its queue: the kernel drops what replay counts over it.</summary>
    [RootFact]
    public async Task GlobalCap_KernelAndQueueRule_KernelDropsWhatReplayCountsOverTheCap()
    {
        using var lab = NetworkLab.Create();
        var rules = Rules.Replace("algorithm = \"sliding_log\"\nlimit = 1000\nwindow = \"1s\"\nenforce = \"observe\"\naction = \"log\"", "algorithm = \"leaky_bucket\"\nrate = \"1000/s\"\nqueue = 100\nenforce = \"queue\"", StringComparison.Ordinal);
        Assert.Contains("enforce = \"queue\"", rules, StringComparison.Ordinal);
        var (kernel, replayed, _) = await RunAsync(lab, rules);
        var expected = replayed.GlobalLimited!.Value;
        output.WriteLine($"sent {replayed.Packets}; over the cap: kernel {kernel}, replay {expected}; passed k {replayed.Rules[0].Passed}, q {replayed.Rules[1].Passed}");

        Assert.True(expected > 100, $"the cap held back only {expected}: the sender was too slow to test it");
        Assert.InRange(kernel, expected - 5, expected + 5);
    }

    /// <summary>
    /// Runs a daemon with <paramref name="rules"/> on vb, sends 400 packets a second for 2 s from one source, alternating
    /// between ports 9000 and 9001 (four times the cap), and returns the kernel's <c>c_global_limited</c>, the replay of
    /// what the sender's side saw leave (at the times it left), and the daemon's status.
    /// </summary>
    private static async Task<(long Kernel, ReplayResult Replayed, JsonNode Status)> RunAsync(NetworkLab lab, string rules)
    {
        var daemonTable = $"interface = \"{NetworkLab.ReceiverInterface}\"";
        using var daemon = DaemonProcess.Start(lab.B, rules, daemonTable);
        var directory = Directory.CreateTempSubdirectory("shaper-global-").FullName;
        var pcap = Path.Combine(directory, "send.pcap");
        var sent = Path.Combine(directory, "sent.pcap");
        try
        {
            TrafficPcap.Write(pcap, Enumerable.Range(0, 800).Select(k => new TrafficPcap.Udp(k * 2_500_000L, 0xC6121401u, (ushort)(9000 + (k % 2)))));
            using (SenderCapture.Start(lab, sent, "udp and (dst port 9000 or dst port 9001)"))
            {
                var replay = lab.Exec(lab.A, "tcpreplay", "-q", "-i", "va", pcap);
                Assert.True(replay.ExitCode == 0, replay.Error);
            }

            var counter = JsonNode.Parse(lab.Exec(lab.B, "nft", "-j", "list", "counter", "inet", "shaper", "c_global_limited").EnsureSuccess("reading the counter").Output)!["nftables"]!
                .AsArray().Select(n => n?["counter"]).Single(c => c is not null)!;
            var status = (await daemon.SendAsync("status")).Result!;

            var config = ConfigLoader.Parse($"[daemon]\n{daemonTable}\n{rules}", "rules.toml").Config!;
            using var source = ReplaySources.Open(sent);
            var replayed = ReplayRunner.Run(CompiledRuleSet.Compile(config), source, TimeProvider.System);
            Assert.Equal(800, replayed.Packets);
            return (counter["packets"]!.GetValue<long>(), replayed, status);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
