using Microsoft.Extensions.Time.Testing;
using Shaper.Tests.Lab;
using Shaper.Threading;

namespace Shaper.Tests.Threading;

public sealed class RealtimeThreadTests
{
    /// <summary>
    /// On a real thread (as root, which may run real-time): busy over a window it steps down to SCHED_OTHER at its nice
    /// value, light over a calm second it steps back up to SCHED_FIFO at its priority. Monotonic time is the test's;
    /// the CPU time is the thread's own, spent for real.
    /// </summary>
    [RootFact]
    public void BusyThenLight_StepsTheThreadDownAndBackUp()
    {
        var time = new FakeTimeProvider();
        var seen = new List<(bool Realtime, long StepDowns, int Policy, int Priority, int Nice)>();
        var thread = new Thread(() =>
        {
            var scheduling = new RealtimeThread(ThreadNice.CapturePath, ThreadNice.EnforcementPath, time);
            Look(scheduling);

            // 60 ms of CPU within a 100 ms window: over half of it.
            ThreadScheduling.SpendCpu(60);
            time.Advance(TimeSpan.FromMilliseconds(100));
            scheduling.Check();
            Look(scheduling);

            // A calm second: under a fifth of it.
            time.Advance(TimeSpan.FromSeconds(1));
            scheduling.Check();
            Look(scheduling);
        });
        thread.Start();
        thread.Join();

        Assert.Equal(
            [
                (true, 0L, ThreadScheduling.Fifo, ThreadNice.CapturePath, ThreadNice.EnforcementPath),
                (false, 1L, ThreadScheduling.Other, 0, ThreadNice.EnforcementPath),
                (true, 1L, ThreadScheduling.Fifo, ThreadNice.CapturePath, ThreadNice.EnforcementPath),
            ],
            seen);

        void Look(RealtimeThread scheduling)
        {
            seen.Add((scheduling.Realtime, scheduling.StepDowns, ThreadScheduling.Policy(ThreadScheduling.Self), ThreadScheduling.Priority(ThreadScheduling.Self), ThreadNice.Get()));
        }
    }

    [RootFact]
    public void LightOverAWindow_StaysRealtime()
    {
        var time = new FakeTimeProvider();
        (bool Realtime, int Policy)? seen = null;
        var thread = new Thread(() =>
        {
            var scheduling = new RealtimeThread(ThreadNice.CapturePath, ThreadNice.EnforcementPath, time);
            ThreadScheduling.SpendCpu(5);
            time.Advance(TimeSpan.FromMilliseconds(100));
            scheduling.Check();
            seen = (scheduling.Realtime, ThreadScheduling.Policy(ThreadScheduling.Self));
        });
        thread.Start();
        thread.Join();

        Assert.Equal((true, ThreadScheduling.Fifo), seen);
    }
}
