using Shaper.Plan;
using Shaper.Queue;
using Shaper.Tests.Lab;
using Shaper.Tests.Rules;
using Xunit.Abstractions;

namespace Shaper.Tests.Queue;

/// <summary>
/// ENOBUFS is counted, never fatal: a queue worker with a receive buffer the kernel's minimum (a few packets' messages)
/// is stalled while a burst comes, so the kernel cannot add the burst's messages to the full buffer. Against the real
/// kernel in a namespace lab, the worker in this process bound in the lab's namespace, the NFQUEUE rule (with bypass)
/// put there by iptables as the daemon's chain does.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class QueueOverrunTests(ITestOutputHelper output)
{
    private const int Burst = 300;
    private const int After = 100;

    [RootFact]
    public async Task TinyReceiveBuffer_BurstWhileTheWorkerStalls_EnobufsCountedWorkerKeepsServingNothingLost()
    {
        using var lab = NetworkLab.Create();
        var sources = lab.AddSenderAddresses(1);
        var plan = EnforcementPlan.Compile(ConfigText.Load(QueueAccuracyTests.RuleText(10_000, 100)).Config!, Shaper.Rules.BackendKind.Iptables);
        var rule = plan.QueueRules.Single();
        lab.Exec(lab.B, "iptables", "-A", "INPUT", "-p", "udp", "--dport", "9000", "-j", "NFQUEUE", "--queue-num", $"{rule.Number}", "--queue-bypass").EnsureSuccess("iptables NFQUEUE");
        using var inB = new NamespaceThread(lab.B);
        string? error = null;
        using var worker = inB.Invoke(() => QueueWorker.Start(rule, 1024, new HeldBudget(1000), TimeProvider.System, out error, receiveBuffer: 1));
        Assert.True(worker is not null, error);
        using var probe = UdpProbe.Open(lab, sources);

        // The worker blocks on the gate while the burst is sent (its thread, between packets): nothing reads the socket.
        using var stalled = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();
        worker.Post(() =>
        {
            stalled.Set();
            gate.Wait();
        });
        Assert.True(stalled.Wait(TimeSpan.FromSeconds(10)), "the worker did not come round to the stall");
        probe.Send(3000, TimeSpan.FromSeconds(Burst / 3000.0));
        gate.Set();

        // Then traffic at an easy pace, read and decided by the same worker.
        var before = await worker.ReportAsync();
        probe.Send(200, TimeSpan.FromSeconds(After / 200.0), startAt: Burst);
        var arrivals = probe.Finish(quiet: TimeSpan.FromSeconds(1), max: TimeSpan.FromSeconds(10));
        var report = await worker.ReportAsync();
        var kernel = KernelQueueStats.Parse(lab.Exec(lab.B, "cat", KernelQueueStats.Path).Output).Single(q => q.Number == rule.Number);
        output.WriteLine($"ENOBUFS {report.NoBuffers}; worker passed {before.Passed} by the end of the stall, {report.Passed} in all; received {arrivals.Count} of {Burst + After}; kernel: queued {kernel.IdSequence}, user_dropped {kernel.UserDropped}");

        Assert.True(report.NoBuffers > 0, "the overrun was not counted");
        Assert.Null(worker.Failure);
        Assert.Equal("running", worker.State);
        Assert.Null(worker.Probe());

        // The worker decided every packet after the stall (each one passed: the rate is far above the pace).
        // (at least most of them: a pause of the thread on a busy host may overrun the tiny buffer again)
        Assert.InRange(report.Passed - before.Passed, After / 2, Burst + After);

        // Fail-open: a packet whose message found the buffer full was accepted by the kernel, not lost.
        Assert.Equal(0, kernel.UserDropped);
        Assert.Equal(Burst + After, arrivals.Select(a => a.Sequence).Distinct().Count());
    }
}
