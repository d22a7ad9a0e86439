using Shaper.Capture;

namespace Shaper.Threading;

/// <summary>
/// The calling thread's scheduling under a <see cref="RealtimeBudget"/>: SCHED_FIFO at a priority while it is light,
/// normal scheduling at a nice value while it is busy. Real-time, a woken thread runs at once instead of waiting up
/// to a scheduler tick behind the host's other threads; busy, it must not take its CPU from them (an operator's
/// shell included). Made on the thread it governs, which calls <see cref="Check"/> between units of work (a read of
/// packets, a batch of blocks); only there, and only when a window ends, is the thread's CPU clock read. Where
/// real-time is not allowed the thread stays at the nice value and nothing is checked.
/// </summary>
internal sealed class RealtimeThread
{
    private readonly int _priority;
    private readonly int _nice;
    private readonly TimeProvider _time;
    private readonly RealtimeBudget? _budget;
    private readonly bool _niced;
    private volatile bool _realtime;
    private long _stepDowns;

    /// <summary>Sets the calling thread to nice <paramref name="nice"/>, then to SCHED_FIFO <paramref name="priority"/> where allowed.</summary>
    public RealtimeThread(int priority, int nice, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        _priority = priority;
        _nice = nice;
        _time = time;
        _niced = ThreadNice.Set(nice) is null;
        if (ThreadNice.SetRealtime(priority) is null)
        {
            _budget = new RealtimeBudget(MonotonicClock.NowNs(time), ThreadNice.CpuTimeNs());
            _realtime = true;
        }
    }

    /// <summary>Whether the thread runs real-time now.</summary>
    public bool Realtime => _realtime;

    /// <summary>How the thread is scheduled now: <c>SCHED_FIFO N</c>, <c>nice N</c>, or <c>default</c> where neither was allowed.</summary>
    public string Scheduling => Realtime ? $"SCHED_FIFO {_priority}" : _niced ? $"nice {_nice}" : "default";

    /// <summary>Times the thread stepped down from real-time because it was busy.</summary>
    public long StepDowns => Volatile.Read(ref _stepDowns);

    /// <summary>On the governed thread, between units of work: steps it down or back up when its budget's window says so.</summary>
    public void Check()
    {
        if (_budget is not { } budget)
        {
            return;
        }

        var now = MonotonicClock.NowNs(_time);
        if (now < budget.NextCheckNs || !budget.Check(now, ThreadNice.CpuTimeNs()))
        {
            return;
        }

        // Stepping down is always allowed; a step up that fails (the capability gone meanwhile) leaves the thread at
        // normal scheduling, and the budget's next window, measured as if real-time, steps it down again harmlessly.
        if ((budget.Realtime ? ThreadNice.SetRealtime(_priority) : ThreadNice.SetNormal(_nice)) is null)
        {
            _realtime = budget.Realtime;
        }

        Volatile.Write(ref _stepDowns, budget.StepDowns);
    }
}
