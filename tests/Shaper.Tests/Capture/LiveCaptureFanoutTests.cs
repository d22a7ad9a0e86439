using Shaper.Capture;
using Shaper.Engine;
using Shaper.Rules;
using Shaper.Tests.Lab;

namespace Shaper.Tests.Capture;

/// <summary>
/// Two capture threads in a <c>PACKET_FANOUT</c> group on a lab veth, against the real kernel: the group's program
/// hashes the source address, so every source (whatever its ports) is decided on one thread, and both threads work.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class LiveCaptureFanoutTests
{
    private const string Rules = """
        [daemon]
        interface = "eth0"

        [[rule]]
        name = "count"
        match = { proto = "udp", dport = [9000] }
        rate = "100000/s"
        burst = 100000
        enforce = "observe"
        action = "log"
        """;

    [RootFact]
    public async Task TwoLanes_EachSourceOnOneLane_BothLanesUsed()
    {
        const int Sources = 200, PerSource = 8;
        var config = ConfigLoader.Parse(Rules, "shaper.toml").Config!;
        using var lab = NetworkLab.Create();
        using var runner = new EngineRunner(2, _ => new RuleEngine(CompiledRuleSet.Compile(config), 4096), TimeProvider.System);
        using var inB = new NamespaceThread(lab.B);
        using var capture = inB.Invoke(() => LiveCapture.Start(NetworkLab.ReceiverInterface, BpfFilter.Build(config.Rules), FanoutKey.For(config.Rules), runner.Lanes, TimeProvider.System));
        Assert.True(capture.Running, capture.LastError);

        // Each source sends from a different port each time: a flow hash would spread one source over both threads.
        var packets = new List<TrafficPcap.Udp>();
        for (var k = 0; k < PerSource; k++)
        {
            for (var s = 0; s < Sources; s++)
            {
                packets.Add(new(packets.Count * 10_000L, 0xC6126400u + (uint)s, 9000, SourcePort: (ushort)(40000 + (k * 7) + s)));
            }
        }

        var pcap = Path.Combine(Path.GetTempPath(), $"shaper-fanout-{Environment.ProcessId}.pcap");
        TrafficPcap.Write(pcap, packets);
        try
        {
            lab.Exec(lab.A, "tcpreplay", "-q", "-i", "va", "--pps=20000", pcap).EnsureSuccess("tcpreplay");
        }
        finally
        {
            File.Delete(pcap);
        }

        for (var waited = 0; runner.Processed < packets.Count && waited < 100; waited++)
        {
            Thread.Sleep(100); // the kernel hands the last block over within the buffer timeout
        }

        Assert.Equal(packets.Count, runner.Processed);
        var perLane = await runner.QueryAllAsync(engine => engine.Report(0).Single().Keys.ToDictionary(k => k.Key, k => k.Counters.Passed));
        Assert.All(perLane, keys => Assert.NotEmpty(keys));
        Assert.Empty(perLane[0].Keys.Intersect(perLane[1].Keys));
        Assert.Equal(Sources, perLane[0].Count + perLane[1].Count);
        Assert.All(perLane.SelectMany(keys => keys.Values), passed => Assert.Equal((uint)PerSource, passed));
    }
}
