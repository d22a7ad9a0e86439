using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Queue;

/// <summary>
/// enforce = "queue" end to end against the real kernel, in a namespace lab: shaperd in B binds the rule's NFQUEUE
/// queue and the iptables NFQUEUE rule sends it the packets; 20 senders in A each send faster than the rate.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class QueueAccuracyTests(ITestOutputHelper output)
{
    private const int Sources = 20;
    private const int SendPerSecond = 200;
    private const double Rate = 50;
    private const int QueueLength = 25;

    internal const string Rule = """
        [[rule]]
        name = "udp-queue"
        match = { proto = "udp", dport = [9000] }
        per = "src"
        algorithm = "leaky_bucket"
        rate = "{rate}/s"
        queue = {queue}
        enforce = "queue"
        """;

    [RootFact]
    public async Task Queue_TwentySourcesAt200ppsThrough50PerSecond_EachGets50PerSecondSpaced20msHeldAtMostQueueOverRate()
    {
        using var lab = NetworkLab.Create();
        var sources = lab.AddSenderAddresses(Sources);
        using var daemon = DaemonProcess.Start(lab.B, RuleText(Rate, QueueLength));
        using var probe = UdpProbe.Open(lab, sources);

        var start = probe.Send(SendPerSecond, TimeSpan.FromSeconds(5));
        var arrivals = probe.Finish(quiet: TimeSpan.FromSeconds(1), max: TimeSpan.FromSeconds(5));
        var counters = (await daemon.SendAsync("counters")).Result!["rules"]!.AsArray().Single(r => (string)r!["name"]! == "udp-queue")!;
        var status = (await daemon.SendAsync("status")).Result!;
        output.WriteLine($"daemon garbage collections {status["gc_collections"]}, pauses {status["gc_pause_total_ms"]} ms in all");
        output.WriteLine($"daemon: passed {counters["passed"]}, delayed {counters["delayed"]}, limited {counters["limited"]}, queue {counters["queue"]!.ToJsonString()}");

        // Once a source's FIFO has filled (25 packets at 150/s over the rate: 0.17 s), it gets the rate: counted over
        // seconds 1 to 5 of the send, by the receiver's clock.
        double Seconds(long ticks) => (ticks - start) / (double)Stopwatch.Frequency;
        var spacings = new List<double>();
        for (var s = 0; s < Sources; s++)
        {
            var mine = arrivals.Where(a => a.Source == s).OrderBy(a => a.ReceivedTicks).ToList();
            var window = mine.Count(a => Seconds(a.ReceivedTicks) is >= 1 and < 5);
            var rate = window / 4.0;
            var steady = mine.Where(a => Seconds(a.ReceivedTicks) is >= 1 and < 5).ToList();
            for (var i = 1; i < steady.Count; i++)
            {
                spacings.Add((steady[i].ReceivedTicks - steady[i - 1].ReceivedTicks) * 1000.0 / Stopwatch.Frequency);
            }

            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{sources[s]}: sent {probe.Sent[s]}, received {mine.Count}, {rate:F2}/s over seconds 1-5, max one-way delay {mine.Max(a => a.DelayMs):F1} ms"));
            Assert.InRange(rate, Rate * 0.98, Rate * 1.02);
        }

        spacings.Sort();
        var p50 = spacings[spacings.Count / 2];
        var delays = arrivals.Select(a => a.DelayMs).Order().ToList();
        var heldMax = (double)counters["queue"]!["delay_max_ms"]!;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"departure spacing p50 {p50:F3} ms, p1 {spacings[spacings.Count / 100]:F3} ms, p99 {spacings[spacings.Count * 99 / 100]:F3} ms; one-way delay p50 {delays[delays.Count / 2]:F1} ms, max {delays[^1]:F1} ms; held (read to verdict) max {heldMax:F3} ms"));
        Assert.InRange(p50, 19.0, 21.0);

        // No packet held longer than queue / rate (500 ms): the daemon's own hold time, read to verdict. The 99th
        // percentile within 5 ms of it (a release one slot late would put it 20 ms over). The longest within 30 ms: the
        // release threads are SCHED_FIFO, but this kernel is not preemptible (preempt=none), so a release waits out
        // whatever its CPU runs in the kernel; under four busy loops ten runs held at most 500.03 to 525 ms, and a CI
        // run with the suite's other traffic tests before it 512.3 ms at a p99 of 499.96. A full suite on a Firecracker
        // guest gave a p99 of 502.97 ms (its longest 505.3), over the 2 ms this allowed before: jitter, not a slot.
        var bound = QueueLength / Rate * 1000;
        Assert.InRange((double)counters["queue"]!["delay_p99_ms"]!, 0, bound + 5);
        Assert.InRange(heldMax, 0, bound + 30);
        Assert.Equal(0, (long)counters["queue"]!["kernel_user_dropped"]!);
    }

    internal static string RuleText(double rate, int queue) => Rule
        .Replace("{rate}", rate.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
        .Replace("{queue}", queue.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
}
