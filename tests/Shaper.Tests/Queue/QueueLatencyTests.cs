using System.Globalization;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Queue;

/// <summary>
/// What the queue adds to a polite source's packets (under its rate, so every one is accepted on arrival), measured
/// against the same source's packets to a port no rule matches, interleaved in the same run.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class QueueLatencyTests(ITestOutputHelper output)
{
    private const string Rule = """
        [[rule]]
        name = "udp-queue"
        match = { proto = "udp", dport = [9000] }
        per = "src"
        algorithm = "leaky_bucket"
        rate = "10000/s"
        queue = 25
        enforce = "queue"
        """;

    /// <summary>
    /// The median is asserted; the 99th percentile is printed, and measured over several rounds by the queue benchmark:
    /// on a 2-core host shared with builds, single runs of 500 packets saw it between 35 µs and 4.7 ms, with the
    /// packets to the port no rule matches as slow at times, so one run's tail says more about the host than the queue.
    /// The median is the host's too: 51 to 57 µs on the machine of the first sessions, 180 to 270 µs on a later
    /// machine of the same kind with the same build (73 to 120 µs there with every process on one CPU, so the cost is
    /// waking the queue thread on the other, idle, virtual CPU). What the queue itself decides is asserted from its
    /// counters: a polite source's packets pass on arrival, and only a sender's stall (what was due sent back to back)
    /// gets a few held.
    /// </summary>
    [RootFact]
    public async Task Queue_PoliteSource_PassesOnArrivalAndAddsAtMostHalfAMillisecondMedian()
    {
        using var lab = NetworkLab.Create();
        var sources = lab.AddSenderAddresses(1);
        using var daemon = DaemonProcess.Start(lab.B, Rule);
        using var probe = UdpProbe.Open(lab, sources);

        // 200 packets a second for 5 s, every other one to port 9001 (no rule): 100/s through the 10000/s queue. (A
        // sender that stalls sends what is due back to back; packets closer than 0.1 ms are held, as a leaky bucket must.)
        var start = probe.Send(200, TimeSpan.FromSeconds(5), alternate: true);
        var arrivals = probe.Finish(quiet: TimeSpan.FromSeconds(1), max: TimeSpan.FromSeconds(5));
        var counters = (await daemon.SendAsync("counters")).Result!["rules"]!.AsArray().Single(r => (string)r!["name"]! == "udp-queue")!;

        List<double> Delays(int port) => [.. arrivals.Where(a => a.Port == port).Select(a => a.DelayMs).Order()];
        static double At(List<double> sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
        var queued = Delays(9000);
        var plain = Delays(9001);
        var addedP50 = At(queued, 0.5) - At(plain, 0.5);
        var addedP99 = At(queued, 0.99) - At(plain, 0.99);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"through the queue: {queued.Count} packets, one-way p50 {At(queued, 0.5) * 1000:F1} µs, p99 {At(queued, 0.99) * 1000:F1} µs; no rule: {plain.Count} packets, p50 {At(plain, 0.5) * 1000:F1} µs, p99 {At(plain, 0.99) * 1000:F1} µs; added p50 {addedP50 * 1000:F1} µs, p99 {addedP99 * 1000:F1} µs; daemon passed {counters["passed"]}, delayed {counters["delayed"]}"));

        foreach (var worst in arrivals.Where(a => a.Port == 9000).OrderByDescending(a => a.DelayMs).Take(5))
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"slowest: {worst.DelayMs * 1000:F0} µs, sent {(worst.SentTicks - start) * 1000.0 / System.Diagnostics.Stopwatch.Frequency:F1} ms into the run"));
        }

        Assert.Equal(500, queued.Count);
        Assert.Equal(500, plain.Count);
        Assert.True(counters["delayed"]!.GetValue<long>() < 50, $"{counters["delayed"]} of 500 polite packets held");
        Assert.Equal(500, counters["passed"]!.GetValue<long>() + counters["delayed"]!.GetValue<long>());
        Assert.InRange(addedP50, double.MinValue, 0.5);
    }
}
