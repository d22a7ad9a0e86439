using Shaper.Capture;
using Shaper.Engine;
using Shaper.Rules;
using Shaper.Tests.Lab;

namespace Shaper.Tests.Capture;

/// <summary>
/// The watchdog's view of the capture threads: a thread that ended (here, its engine threw inside the capture
/// callback) makes <see cref="EngineRunner.Probe"/> say so, which stops the daemon's systemd pings; a live one answers.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class CaptureLaneHealthTests
{
    private const string Rules = """
        [daemon]
        interface = "vb"

        [[rule]]
        name = "udp-flood"
        match = { proto = "udp", dport = [9000] }
        rate = "1/minute"
        burst = 2
        enforce = "observe"
        action = "block"
        block_for = "10m"
        """;

    [RootFact]
    public void Probe_ThreadWhoseEngineThrew_ReportsItStopped()
    {
        var config = ConfigLoader.Parse(Rules, "shaper.toml").Config!;
        using var lab = NetworkLab.Create();
        using var runner = new EngineRunner(1, _ => Engine(config), TimeProvider.System);
        using var inB = new NamespaceThread(lab.B);
        using var capture = inB.Invoke(() => LiveCapture.Start(NetworkLab.ReceiverInterface, BpfFilter.Build(config.Rules), FanoutKey.For(config.Rules), runner.Lanes, TimeProvider.System));
        Assert.True(capture.Running, capture.LastError);
        // A live thread answers each probe (it is woken for it, traffic or not): null once the last one is answered.
        Assert.Null(runner.Probe());
        string? answered;
        var tries = 0;
        do
        {
            Thread.Sleep(100);
            answered = runner.Probe();
        }
        while (answered is not null && ++tries < 50);
        Assert.Null(answered);

        // The third packet crosses the limit; the block handler throws on the capture thread.
        var pcap = Path.Combine(Path.GetTempPath(), $"shaper-lane-health-{Environment.ProcessId}.pcap");
        TrafficPcap.Write(pcap, Enumerable.Range(0, 5).Select(i => new TrafficPcap.Udp(i * 1_000_000L, 0xC6120707u, 9000)));
        try
        {
            lab.Exec(lab.A, "tcpreplay", "-q", "-i", "va", pcap).EnsureSuccess("tcpreplay");
        }
        finally
        {
            File.Delete(pcap);
        }

        string? why = null;
        for (var waited = 0; (why = runner.Probe()) is null && waited < 100; waited++)
        {
            Thread.Sleep(100);
        }

        Assert.NotNull(why);
        Assert.Contains("capture thread 0 has stopped: block handler failed", why, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(runner.Lanes[0].Fault);
    }

    private static RuleEngine Engine(ShaperConfig config)
    {
        var engine = new RuleEngine(CompiledRuleSet.Compile(config), 1024);
        engine.KeyBlocked += (_, _, _, _, _, _) => throw new InvalidOperationException("block handler failed");
        return engine;
    }
}
