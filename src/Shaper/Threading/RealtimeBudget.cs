namespace Shaper.Threading;

/// <summary>
/// When a real-time thread must step down to normal scheduling, and when it may step back up, from its own CPU
/// time. A SCHED_FIFO thread that has work runs before every normal thread on its CPU, an operator's shell and sshd
/// included, and the kernel keeps only 5% of each second back for them (<c>sched_rt_runtime_us</c>); so a thread
/// that a flood keeps busy must give that up. It steps down once it used more than half of a CPU over
/// <see cref="BusyWindowNs"/> (100 ms), and back up once it used less than a fifth over <see cref="CalmWindowNs"/>
/// (1 s). The caller gives the times (monotonic and the thread's CPU clock, nanoseconds) and applies the answer.
/// </summary>
internal sealed class RealtimeBudget
{
    /// <summary>The window over which a real-time thread's CPU share is measured: 100 ms.</summary>
    public const long BusyWindowNs = 100_000_000;

    /// <summary>The window over which a stepped-down thread's CPU share is measured: 1 s.</summary>
    public const long CalmWindowNs = 1_000_000_000;

    /// <summary>A real-time thread steps down above this share of a CPU over <see cref="BusyWindowNs"/>.</summary>
    public const double StepDownAbove = 0.5;

    /// <summary>A stepped-down thread steps back up below this share of a CPU over <see cref="CalmWindowNs"/>.</summary>
    public const double StepUpBelow = 0.2;

    private long _windowStartNs;
    private long _windowStartCpuNs;

    /// <summary>Starts a budget for a thread that is real-time now, at monotonic <paramref name="nowNs"/> and thread CPU time <paramref name="cpuNs"/>.</summary>
    public RealtimeBudget(long nowNs, long cpuNs)
    {
        _windowStartNs = nowNs;
        _windowStartCpuNs = cpuNs;
    }

    /// <summary>Whether the thread should be real-time now.</summary>
    public bool Realtime { get; private set; } = true;

    /// <summary>Times the thread stepped down.</summary>
    public long StepDowns { get; private set; }

    /// <summary>When the current window ends (monotonic ns): <see cref="Check"/> changes nothing before it.</summary>
    public long NextCheckNs => _windowStartNs + (Realtime ? BusyWindowNs : CalmWindowNs);

    /// <summary>
    /// Ends the current window if it is over and starts the next: true when <see cref="Realtime"/> changed, which
    /// the caller then applies to the thread. Only the thread's CPU time in the window counts, so time the thread
    /// slept or waited for a CPU does not make it busy.
    /// </summary>
    public bool Check(long nowNs, long cpuNs)
    {
        if (nowNs < NextCheckNs)
        {
            return false;
        }

        var share = (double)(cpuNs - _windowStartCpuNs) / (nowNs - _windowStartNs);
        _windowStartNs = nowNs;
        _windowStartCpuNs = cpuNs;
        if (Realtime && share > StepDownAbove)
        {
            Realtime = false;
            StepDowns++;
            return true;
        }

        if (!Realtime && share < StepUpBelow)
        {
            Realtime = true;
            return true;
        }

        return false;
    }
}
