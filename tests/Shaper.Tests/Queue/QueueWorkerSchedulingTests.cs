using System.Diagnostics;
using Shaper.Plan;
using Shaper.Queue;
using Shaper.Tests.Lab;
using Shaper.Tests.Rules;
using Shaper.Threading;

namespace Shaper.Tests.Queue;

/// <summary>
/// A queue's thread runs real-time while light and steps down while busy, as the capture threads do: a flood into a
/// queue rule must not take its CPU from the rest of the host. Its work is made busy here by work posted to it (CPU
/// spent for real on its thread), which it runs between reads as it runs a report.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class QueueWorkerSchedulingTests
{
    [RootFact]
    public async Task BusyThread_StepsDown_AndBackUpWhenLight()
    {
        using var lab = NetworkLab.Create();
        var plan = EnforcementPlan.Compile(ConfigText.Load(QueueAccuracyTests.RuleText(10_000, 100)).Config!, Shaper.Rules.BackendKind.Iptables);
        var rule = plan.QueueRules.Single();
        using var inB = new NamespaceThread(lab.B);
        string? error = null;
        using var worker = inB.Invoke(() => QueueWorker.Start(rule, 1024, new HeldBudget(1000), TimeProvider.System, out error));
        Assert.True(worker is not null, error);
        var stat = ThreadScheduling.Of(Environment.ProcessId, await OnThread(worker, Shaper.Interop.LibC.GetTid));
        Assert.Equal(($"SCHED_FIFO {ThreadNice.ReleasePath}", ThreadScheduling.Fifo), (worker.Scheduling, ThreadScheduling.Policy(stat)));

        // Busy: 300 ms of CPU at a time, back to back, as a flood keeps it, until it steps down (at most 10 pieces). One
        // piece is over half of the window it ends in only while its wall time stays under about twice its CPU time,
        // which the hypervisor's steal can break; in one CI run a single piece of 150 ms left the thread real-time.
        for (var piece = 0; piece < 10 && worker.Scheduling != $"nice {ThreadNice.EnforcementPath}"; piece++)
        {
            await OnThread(worker, () =>
            {
                ThreadScheduling.SpendCpu(300);
                return 0;
            });
            await OnThread(worker, () => 0); // the loop has come round to its check since
        }

        Assert.Equal(($"nice {ThreadNice.EnforcementPath}", ThreadScheduling.Other), (worker.Scheduling, ThreadScheduling.Policy(stat)));

        var clock = Stopwatch.StartNew();
        while (worker.Scheduling != $"SCHED_FIFO {ThreadNice.ReleasePath}" && clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(50);
        }

        Assert.Equal(($"SCHED_FIFO {ThreadNice.ReleasePath}", ThreadScheduling.Fifo), (worker.Scheduling, ThreadScheduling.Policy(stat)));
    }

    private static Task<T> OnThread<T>(QueueWorker worker, Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        worker.Post(() => done.SetResult(work()));
        return done.Task;
    }
}
