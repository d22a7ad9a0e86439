using System.Diagnostics;
using System.Globalization;
using Shaper.Queue;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Queue;

/// <summary>
/// What a queue loses when shaperd stops, against the real kernel in a namespace lab: one source sends 400 packets a
/// second through a 50/s queue long enough to hold everything (queue = 2000), so the only losses are the stop's.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class QueueSafetyTests(ITestOutputHelper output)
{
    private const int PerSecond = 400;

    [RootFact]
    public void SigTerm_MidTraffic_NoPacketLost()
    {
        using var lab = NetworkLab.Create();
        var sources = lab.AddSenderAddresses(1);
        using var daemon = DaemonProcess.Start(lab.B, QueueAccuracyTests.RuleText(50, 2000));
        using var probe = UdpProbe.Open(lab, sources);
        long heldAtStop = -1;
        var stopTook = TimeSpan.Zero;

        // 2 s of traffic; SIGTERM after 1 s (packet 400), with about 350 packets held; the traffic goes on through it.
        probe.Send(PerSecond, TimeSpan.FromSeconds(2), at: () =>
        {
            heldAtStop = Held(lab);
            stopTook = daemon.Stop();
        }, atCount: PerSecond);
        var arrivals = probe.Finish(quiet: TimeSpan.FromSeconds(1), max: TimeSpan.FromSeconds(10));

        var missing = Enumerable.Range(0, probe.Sent[0]).Except(arrivals.Select(a => a.Sequence)).ToList();
        output.WriteLine($"sent {probe.Sent[0]}, received {arrivals.Count}, held at SIGTERM {heldAtStop}, stop took {stopTook.TotalMilliseconds:F0} ms, missing [{string.Join(",", missing)}]");
        output.WriteLine(daemon.Log);
        Assert.True(heldAtStop > 100, $"the queue held {heldAtStop} packets when the daemon was stopped");
        Assert.Empty(missing);
    }

    [RootTheory]
    [InlineData(40)] // the rate changes: the queue is let go (its held packets accepted first) and a new one bound
    [InlineData(50)] // nothing changes: the queue, its held packets and its keys stay
    public async Task RulesApply_MidTraffic_NoPacketLost(int newRate)
    {
        using var lab = NetworkLab.Create();
        var sources = lab.AddSenderAddresses(1);
        using var daemon = DaemonProcess.Start(lab.B, QueueAccuracyTests.RuleText(50, 2000));
        using var probe = UdpProbe.Open(lab, sources);
        var text = File.ReadAllText(Path.Combine(daemon.Directory, "shaper.toml")).Replace("rate = \"50/s\"", $"rate = \"{newRate}/s\"", StringComparison.Ordinal);
        long heldBefore = -1, heldAfter = -1;
        string reply = "";

        probe.Send(PerSecond, TimeSpan.FromSeconds(2), at: () =>
        {
            heldBefore = Held(lab);
            var applied = daemon.SendAsync("rules.apply", new() { ["text"] = text }).GetAwaiter().GetResult();
            reply = applied.Ok ? applied.Result!.ToJsonString() : "error: " + applied.Error;
            heldAfter = Held(lab);
        }, atCount: PerSecond);

        // The held packets leave at their slots (or at once, when the queue was let go): wait for the last.
        var arrivals = probe.Finish(quiet: TimeSpan.FromSeconds(2), max: TimeSpan.FromSeconds(60));
        var missing = Enumerable.Range(0, probe.Sent[0]).Except(arrivals.Select(a => a.Sequence)).ToList();
        output.WriteLine($"rate 50/s -> {newRate}/s: held before {heldBefore}, after {heldAfter}; reply {reply}; sent {probe.Sent[0]}, received {arrivals.Count}, missing [{string.Join(",", missing.Take(20))}]");
        Assert.StartsWith("{", reply, StringComparison.Ordinal);
        Assert.True(heldBefore > 100, $"the queue held {heldBefore} packets when the rules were applied");
        if (newRate == 50)
        {
            Assert.True(heldAfter > 100, $"an unchanged queue rule kept {heldAfter} held packets across the apply");
        }

        Assert.Empty(missing);
    }

    [RootFact]
    public void Kill9_MidTraffic_FlowsAgainAtOnceAndLosesAtMostWhatWasHeld()
    {
        using var lab = NetworkLab.Create();
        var sources = lab.AddSenderAddresses(1);
        using var daemon = DaemonProcess.Start(lab.B, QueueAccuracyTests.RuleText(50, 2000));
        using var probe = UdpProbe.Open(lab, sources);
        long held = -1;
        int sentAtRead = 0, sentAtKill = 0;
        long killedAt = 0;

        var killTook = TimeSpan.Zero;

        // The kill at 1 s (packet 400), and 2 s of traffic after it: the kill (and the wait for the process to be
        // gone) holds up the sender, and it once took more than the second the traffic had left (CI: nothing sent after it).
        probe.Send(PerSecond, TimeSpan.FromSeconds(3), at: () =>
        {
            sentAtRead = probe.SentSoFar;
            held = Held(lab);
            var killing = Stopwatch.StartNew();
            daemon.Kill();
            killTook = killing.Elapsed;
            killedAt = Stopwatch.GetTimestamp();
            sentAtKill = probe.SentSoFar;
        }, atCount: PerSecond);
        var arrivals = probe.Finish(quiet: TimeSpan.FromSeconds(1), max: TimeSpan.FromSeconds(10));

        // A packet sent after the daemon was gone goes through the rule's bypass: the first one's delay is how long
        // the traffic stood still. The kernel dropped what the dead queue held: at most what it held when read, and
        // what was sent between that read and the kill (each of those was held or had passed).
        var received = arrivals.Select(a => a.Sequence).ToHashSet();
        var lost = Enumerable.Range(0, probe.Sent[0]).Where(s => !received.Contains(s)).ToList();
        var after = arrivals.Where(a => a.Sequence >= sentAtKill).OrderBy(a => a.Sequence).ToList();
        Assert.True(after.Count > 0, $"no packet sent after the kill arrived: sent {probe.Sent[0]}, {sentAtKill} before the kill, which took {killTook.TotalMilliseconds:F0} ms");
        var firstAfterMs = (after[0].ReceivedTicks - killedAt) * 1000.0 / Stopwatch.Frequency;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"sent {probe.Sent[0]}, lost {lost.Count} (sequence {lost.DefaultIfEmpty().Min()}..{lost.DefaultIfEmpty().Max()}), held when read {held}, sent between the read and the kill {sentAtKill - sentAtRead}; first packet after the kill received {firstAfterMs:F2} ms after it, one-way delay of later packets max {after.Max(a => a.DelayMs):F2} ms; the kill took {killTook.TotalMilliseconds:F0} ms"));
        Assert.True(held > 100, $"the queue held {held} packets when the daemon was killed");
        Assert.InRange(lost.Count, 1, held + (sentAtKill - sentAtRead));
        Assert.All(lost, s => Assert.True(s < sentAtKill, $"packet {s}, sent after the kill, was lost"));
        Assert.InRange(firstAfterMs, 0, 100);
    }

    /// <summary>What the kernel holds for the queue now, from its own figures in the daemon's namespace.</summary>
    private static long Held(NetworkLab lab)
    {
        var text = lab.Exec(lab.B, "cat", KernelQueueStats.Path).Output;
        return KernelQueueStats.Parse(text).Single().Waiting;
    }
}
