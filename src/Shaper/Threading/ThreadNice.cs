using System.Runtime.InteropServices;

using Shaper.Interop;

namespace Shaper.Threading;

/// <summary>
/// The calling thread's scheduling weight. On Linux a nice value belongs to a thread, not only to a process, so
/// the daemon can let bookkeeping (logging, recording) give way to the threads that capture, decide and block
/// when the CPUs are busy, which is exactly when an attack arrives. .NET's <c>Thread.Priority</c> does nothing
/// on Linux, hence setpriority(2) on the thread's own id.
/// </summary>
public static class ThreadNice
{
    /// <summary>
    /// The nice value of the threads between a packet and its block (capture, engine, install): ahead of the rest of
    /// the host when the CPUs are short, as an attack makes them. They run real-time where allowed while they are
    /// light, and at this value while busy or where real-time is not allowed. Needs CAP_SYS_NICE or the unit's
    /// LimitNICE; without either they stay at the default.
    /// </summary>
    public const int EnforcementPath = -5;

    /// <summary>Sets the calling thread's nice value (-20 to 19; below 0 needs CAP_SYS_NICE); null on success, else why not.</summary>
    public static string? Set(int nice)
    {
        if (!OperatingSystem.IsLinux())
        {
            return "per-thread nice values are a Linux feature";
        }

        return LibC.SetPriority(0 /* PRIO_PROCESS: with a thread id, that thread alone */, LibC.GetTid(), nice) == 0
            ? null
            : $"setpriority: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}";
    }

    /// <summary>
    /// The real-time priority (SCHED_FIFO, 1 to 99), while they are light, of the queue threads that release held
    /// packets at their departure slots, of the hold release thread, and of the block and hold install threads: on a
    /// busy host a thread at any nice value still waits its turn behind the others, for tens of milliseconds, which
    /// delays every packet it holds or every block it installs by as much. The lowest real-time priorities, below the
    /// kernel's own threads.
    /// </summary>
    public const int ReleasePath = 5;

    /// <summary>
    /// Moves the calling thread to SCHED_FIFO at <paramref name="priority"/> (needs CAP_SYS_NICE or an RLIMIT_RTPRIO that
    /// allows it); null on success, else why not. The thread must sleep whenever it has nothing to do: the kernel keeps
    /// 5% of each second for other threads (sched_rt_runtime_us), no more.
    /// </summary>
    public static string? SetRealtime(int priority)
    {
        if (!OperatingSystem.IsLinux())
        {
            return "real-time scheduling of a thread is a Linux feature";
        }

        Span<int> param = [priority]; // struct sched_param
        return LibC.SchedSetScheduler(LibC.GetTid(), 1 /* SCHED_FIFO */, param) == 0
            ? null
            : $"sched_setscheduler: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}";
    }

    /// <summary>
    /// The real-time priority (SCHED_FIFO) of the capture threads while they are light (<see cref="RealtimeBudget"/>):
    /// below the release and install threads' <see cref="ReleasePath"/>, which the blocks they decide wait for.
    /// </summary>
    public const int CapturePath = 4;

    /// <summary>
    /// Moves the calling thread back to normal scheduling (SCHED_OTHER) at nice <paramref name="nice"/>; null on
    /// success, else why not.
    /// </summary>
    public static string? SetNormal(int nice)
    {
        if (!OperatingSystem.IsLinux())
        {
            return "per-thread scheduling is a Linux feature";
        }

        Span<int> param = [0]; // SCHED_OTHER takes priority 0
        return LibC.SchedSetScheduler(LibC.GetTid(), 0 /* SCHED_OTHER */, param) == 0
            ? Set(nice)
            : $"sched_setscheduler: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}";
    }

    /// <summary>The CPU time the calling thread has used, in nanoseconds (its <c>CLOCK_THREAD_CPUTIME_ID</c>).</summary>
    public static unsafe long CpuTimeNs()
    {
        var time = stackalloc long[2];
        return LibC.ClockGetTime(LibC.ClockThreadCpuTime, time) == 0
            ? (time[0] * 1_000_000_000L) + time[1]
            : throw new InvalidOperationException($"clock_gettime: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    /// <summary>Whether a thread may take <paramref name="nice"/>, tried on a throwaway thread: null when it may, else why not.</summary>
    public static string? Probe(int nice) => OnThrowawayThread(() => Set(nice));

    /// <summary>Whether a thread may run SCHED_FIFO at <paramref name="priority"/>, tried on a throwaway thread: null when it may, else why not.</summary>
    public static string? ProbeRealtime(int priority) => OnThrowawayThread(() => SetRealtime(priority));

    private static string? OnThrowawayThread(Func<string?> attempt)
    {
        string? why = null;
        var thread = new Thread(() => why = attempt()) { IsBackground = true, Name = "shaper-nice-probe" };
        thread.Start();
        thread.Join();
        return why;
    }

    /// <summary>The calling thread's nice value.</summary>
    public static int Get()
    {
        Marshal.SetLastPInvokeError(0);
        return LibC.GetPriority(0, LibC.GetTid());
    }
}
