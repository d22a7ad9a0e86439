using System.Globalization;
using Shaper.Threading;

namespace Shaper.Tests.Lab;

/// <summary>
/// How the kernel schedules a thread, read from its <c>/proc/.../stat</c> line (proc(5): policy is field 41, the
/// real-time priority field 40, 0 under SCHED_OTHER), and CPU time spent for real on the calling thread, for the tests
/// of the daemon's real-time threads.
/// </summary>
public static class ThreadScheduling
{
    /// <summary>SCHED_OTHER, normal scheduling.</summary>
    public const int Other = 0;

    /// <summary>SCHED_FIFO, real-time.</summary>
    public const int Fifo = 1;

    /// <summary>The stat file of the calling thread.</summary>
    public const string Self = "/proc/thread-self/stat";

    /// <summary>The stat file of thread <paramref name="tid"/> of process <paramref name="pid"/>.</summary>
    public static string Of(int pid, int tid) => $"/proc/{pid}/task/{tid}/stat";

    /// <summary>The thread's scheduling policy.</summary>
    public static int Policy(string stat) => Field(stat, 41);

    /// <summary>The thread's real-time priority (0 under SCHED_OTHER).</summary>
    public static int Priority(string stat) => Field(stat, 40);

    /// <summary>Field <paramref name="field"/> (proc(5)'s numbering) of a stat file, a number.</summary>
    public static int Field(string stat, int field) => int.Parse(ProcStat.Fields(stat)[field - 3], CultureInfo.InvariantCulture);

    /// <summary>Spends <paramref name="cpuMs"/> ms of the calling thread's CPU time (its own CPU clock, not the wall's).</summary>
    public static void SpendCpu(int cpuMs)
    {
        var start = ThreadNice.CpuTimeNs();
        while (ThreadNice.CpuTimeNs() - start < cpuMs * 1_000_000L)
        {
            Thread.SpinWait(100);
        }
    }
}
