using Microsoft.Extensions.Time.Testing;
using Shaper.Tests.Lab;
using Shaper.Threading;

namespace Shaper.Tests.Threading;

public sealed class RealtimeThreadTests
{
    private const int SchedOther = 0;
    private const int SchedFifo = 1;

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
            Spin(60);
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
                (true, 0L, SchedFifo, ThreadNice.CapturePath, ThreadNice.EnforcementPath),
                (false, 1L, SchedOther, 0, ThreadNice.EnforcementPath),
                (true, 1L, SchedFifo, ThreadNice.CapturePath, ThreadNice.EnforcementPath),
            ],
            seen);

        void Look(RealtimeThread scheduling)
        {
            var stat = ProcStat.Fields("/proc/thread-self/stat");
            seen.Add((scheduling.Realtime, scheduling.StepDowns, Field(stat, 41), Field(stat, 40), ThreadNice.Get()));
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
            Spin(5);
            time.Advance(TimeSpan.FromMilliseconds(100));
            scheduling.Check();
            seen = (scheduling.Realtime, Field(ProcStat.Fields("/proc/thread-self/stat"), 41));
        });
        thread.Start();
        thread.Join();

        Assert.Equal((true, SchedFifo), seen);
    }

    private static void Spin(int cpuMs)
    {
        var start = ThreadNice.CpuTimeNs();
        while (ThreadNice.CpuTimeNs() - start < cpuMs * 1_000_000L)
        {
            Thread.SpinWait(100);
        }
    }

    private static int Field(string[] stat, int field) => int.Parse(stat[field - 3], System.Globalization.CultureInfo.InvariantCulture);
}
