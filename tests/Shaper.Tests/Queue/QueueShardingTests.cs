using System.Diagnostics;
using System.Globalization;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Queue;

/// <summary>
/// <c>[daemon] queues = 2</c> end to end against the real kernel, in a namespace lab: the rule's packets shared between
/// two NFQUEUE queues (two threads, two key tables) by a hash of the source alone, with the traffic of
/// <see cref="QueueAccuracyTests"/> (20 sources at 200/s through 50/s, queue = 25).
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class QueueShardingTests(ITestOutputHelper output)
{
    private const int Sources = 20;

    [RootFact]
    public async Task TwoQueues_TwentySources_EachSourceOnOneQueueAndStill50PerSecond()
    {
        using var lab = NetworkLab.Create();
        var sources = lab.AddSenderAddresses(Sources);
        using var daemon = DaemonProcess.Start(lab.B, QueueAccuracyTests.RuleText(50, 25), daemonTable: "queues = 2");
        using var probe = UdpProbe.Open(lab, sources);

        var start = probe.Send(200, TimeSpan.FromSeconds(5));
        var arrivals = probe.Finish(quiet: TimeSpan.FromSeconds(1), max: TimeSpan.FromSeconds(5));
        var rule = (await daemon.SendAsync("counters")).Result!["rules"]!.AsArray().Single(r => (string)r!["name"]! == "udp-queue")!;
        var queues = rule["queue"]!["queues"]!.AsArray();
        output.WriteLine($"daemon: passed {rule["passed"]}, delayed {rule["delayed"]}, limited {rule["limited"]}, keys {rule["keys_tracked"]}; queues {queues.ToJsonString()}");

        // Both queues have keys and packets, and no source is on both: the keys the two tables track add up to the sources.
        Assert.Equal([1000, 1001], queues.Select(q => (int)q!["queue_num"]!));
        Assert.All(queues, q => Assert.True((int)q!["keys_tracked"]! > 0 && (long)q["kernel_id_sequence"]! > 0, $"queue {q["queue_num"]} was not used: {q.ToJsonString()}"));
        Assert.Equal(Sources, queues.Sum(q => (int)q!["keys_tracked"]!));
        Assert.Equal(Sources, (int)rule["keys_tracked"]!);

        // A source on two queues would get the rate twice: each gets 50/s over seconds 1 to 5, as with one queue.
        double Seconds(long ticks) => (ticks - start) / (double)Stopwatch.Frequency;
        for (var s = 0; s < Sources; s++)
        {
            var rate = arrivals.Count(a => a.Source == s && Seconds(a.ReceivedTicks) is >= 1 and < 5) / 4.0;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{sources[s]}: {rate:F2}/s over seconds 1-5"));
            Assert.InRange(rate, 50 * 0.98, 50 * 1.02);
        }
    }
}
