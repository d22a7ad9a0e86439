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
    /// the host when the CPUs are short, as an attack makes them. Needs CAP_SYS_NICE (shaperd runs as root);
    /// without it they stay at the default.
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

    /// <summary>Whether a thread may take <paramref name="nice"/>, tried on a throwaway thread: null when it may, else why not.</summary>
    public static string? Probe(int nice)
    {
        string? why = null;
        var thread = new Thread(() => why = Set(nice)) { IsBackground = true, Name = "shaper-nice-probe" };
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
