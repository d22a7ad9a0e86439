namespace Shaper.Fleet;

/// <summary>
/// A circuit breaker with Resilience4j's states and rules (<c>CircuitBreakerStateMachine</c>), for the calls the
/// fleet sync makes to its store. Polly.Core's breaker lacks what this one needs: a count-based window, a slow-call
/// rate, a fixed number of trial calls in half-open (Polly lets one probe through), and DISABLED; so it is
/// written here.
/// <list type="bullet">
/// <item>CLOSED: every call is permitted; each outcome goes into the sliding window. Once the window holds at least
/// <see cref="BreakerOptions.MinimumCalls"/> calls, a failure rate at or above its threshold, or a slow-call rate
/// at or above its own, opens the breaker.</item>
/// <item>OPEN: calls are not permitted until <see cref="BreakerOptions.WaitInOpen"/> has passed; the first call
/// after it finds the breaker HALF_OPEN (the transition is lazy, as Resilience4j's default).</item>
/// <item>HALF_OPEN: <see cref="BreakerOptions.PermittedCallsInHalfOpen"/> calls are permitted, into a fresh window
/// of that size; when all have completed, rates at or above a threshold reopen it, else it closes (with an
/// empty window).</item>
/// <item>DISABLED and FORCED_OPEN: set by hand; all calls permitted (nothing recorded), or none; only another
/// manual transition leaves them.</item>
/// </list>
/// A call's outcome from an earlier state (permitted before the breaker moved) is ignored, as Resilience4j does.
/// Thread-safe: the sync task records, the control socket reads and transitions by hand; one lock, never on the
/// packet path.
/// </summary>
public sealed class CircuitBreaker
{
    private readonly BreakerOptions _options;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private BreakerWindow _window;
    private BreakerState _state = BreakerState.Closed;
    private long _openedAt;
    private int _halfOpenPermits;
    private int _generation;
    private long _successful;
    private long _failed;
    private long _slow;
    private long _notPermitted;
    private long _transitions;
    private double _tripFailureRate;
    private double _tripSlowCallRate;
    private int _tripCalls;

    /// <summary>Creates a closed breaker with <paramref name="options"/>, timed by <paramref name="time"/>.</summary>
    public CircuitBreaker(BreakerOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        options.Validate();
        _options = options;
        _time = time;
        _window = ClosedWindow();
    }

    /// <summary>Raised after each transition, outside the lock, with the state left and the state entered.</summary>
    public event Action<BreakerState, BreakerState>? StateChanged;

    /// <summary>The settings.</summary>
    public BreakerOptions Options => _options;

    /// <summary>The state now (an OPEN breaker whose wait has passed still reads OPEN until a call asks).</summary>
    public BreakerState State
    {
        get
        {
            lock (_lock)
            {
                return _state;
            }
        }
    }

    /// <summary>
    /// Asks to make a call. True: make it, then report it with <see cref="OnSuccess"/> or <see cref="OnFailure"/>
    /// passing the <paramref name="permit"/>. False: the breaker refuses it (counted as not permitted).
    /// </summary>
    public bool TryAcquire(out BreakerPermit permit)
    {
        (BreakerState From, BreakerState To)? moved = null;
        bool permitted;
        lock (_lock)
        {
            if (_state == BreakerState.Open && _time.GetTimestamp() - _openedAt >= _options.WaitInOpen.Ticks * _time.TimestampFrequency / TimeSpan.TicksPerSecond)
            {
                moved = MoveLocked(BreakerState.HalfOpen);
            }

            permitted = _state switch
            {
                BreakerState.Closed or BreakerState.Disabled => true,
                BreakerState.HalfOpen when _halfOpenPermits > 0 => true,
                _ => false,
            };
            if (_state == BreakerState.HalfOpen && permitted)
            {
                _halfOpenPermits--;
            }

            if (!permitted)
            {
                _notPermitted++;
            }

            permit = new BreakerPermit(_generation, _time.GetTimestamp());
        }

        Raise(moved);
        return permitted;
    }

    /// <summary>Reports that the permitted call succeeded.</summary>
    public void OnSuccess(BreakerPermit permit) => Record(permit, failed: false);

    /// <summary>Reports that the permitted call failed (an error or a timeout).</summary>
    public void OnFailure(BreakerPermit permit) => Record(permit, failed: true);

    /// <summary>Closes the breaker by hand, with an empty window.</summary>
    public void Close() => Manual(BreakerState.Closed);

    /// <summary>Opens the breaker by hand and keeps it open (FORCED_OPEN) until closed or disabled by hand.</summary>
    public void ForceOpen() => Manual(BreakerState.ForcedOpen);

    /// <summary>Disables the breaker by hand: every call permitted, nothing recorded, until closed by hand.</summary>
    public void Disable() => Manual(BreakerState.Disabled);

    /// <summary>The window's failure rate, slow-call rate and calls when the rates last opened the breaker (0 before).</summary>
    public (double FailureRate, double SlowCallRate, int Calls) LastTrip
    {
        get
        {
            lock (_lock)
            {
                return (_tripFailureRate, _tripSlowCallRate, _tripCalls);
            }
        }
    }

    /// <summary>The state, the window's rates and the counts since start.</summary>
    public BreakerSnapshot Snapshot()
    {
        lock (_lock)
        {
            ExpireLocked();
            return new BreakerSnapshot(
                _state,
                _window.Calls,
                Rate(_window.Failed, _window.Calls),
                Rate(_window.Slow, _window.Calls),
                _successful,
                _failed,
                _slow,
                _notPermitted,
                _transitions);
        }
    }

    private void Record(BreakerPermit permit, bool failed)
    {
        (BreakerState From, BreakerState To)? moved = null;
        lock (_lock)
        {
            var elapsed = _time.GetElapsedTime(permit.StartedAt);
            var slow = elapsed > _options.SlowCallDuration;
            if (permit.Generation != _generation || _state is BreakerState.Disabled or BreakerState.ForcedOpen or BreakerState.Open)
            {
                return;
            }

            if (failed)
            {
                _failed++;
            }
            else
            {
                _successful++;
            }

            if (slow)
            {
                _slow++;
            }

            _window.Record(failed, slow, Second());
            moved = Evaluate();
        }

        Raise(moved);
    }

    /// <summary>Moves on the window's rates, once it holds its minimum of calls.</summary>
    private (BreakerState, BreakerState)? Evaluate()
    {
        var minimum = _state == BreakerState.HalfOpen ? _options.PermittedCallsInHalfOpen : MinimumCalls();
        if (_window.Calls < minimum)
        {
            return null;
        }

        var failureRate = Rate(_window.Failed, _window.Calls);
        var slowRate = Rate(_window.Slow, _window.Calls);
        if (failureRate >= _options.FailureRateThreshold || slowRate >= _options.SlowCallRateThreshold)
        {
            _tripFailureRate = failureRate;
            _tripSlowCallRate = slowRate;
            _tripCalls = _window.Calls;
            return MoveLocked(BreakerState.Open);
        }

        return _state == BreakerState.HalfOpen ? MoveLocked(BreakerState.Closed) : null;
    }

    private void Manual(BreakerState to)
    {
        (BreakerState, BreakerState)? moved;
        lock (_lock)
        {
            moved = MoveLocked(to);
        }

        Raise(moved);
    }

    private (BreakerState, BreakerState)? MoveLocked(BreakerState to)
    {
        var from = _state;
        if (from == to && to != BreakerState.Closed)
        {
            return null;
        }

        _state = to;
        _generation++;
        _window = to == BreakerState.HalfOpen
            ? new BreakerWindow(BreakerWindowType.CountBased, _options.PermittedCallsInHalfOpen)
            : ClosedWindow();
        _halfOpenPermits = to == BreakerState.HalfOpen ? _options.PermittedCallsInHalfOpen : 0;
        if (to == BreakerState.Open)
        {
            _openedAt = _time.GetTimestamp();
        }

        if (from == to)
        {
            return null;
        }

        _transitions++;
        return (from, to);
    }

    private void Raise((BreakerState From, BreakerState To)? moved)
    {
        if (moved is { } m)
        {
            StateChanged?.Invoke(m.From, m.To);
        }
    }

    private void ExpireLocked()
    {
        if (_state == BreakerState.Closed)
        {
            _window.Expire(Second());
        }
    }

    private BreakerWindow ClosedWindow() => new(_options.WindowType, _options.WindowSize);

    private int MinimumCalls() => _options.WindowType == BreakerWindowType.CountBased
        ? Math.Min(_options.MinimumCalls, _options.WindowSize)
        : _options.MinimumCalls;

    private long Second() => _time.GetTimestamp() / _time.TimestampFrequency;

    private static double Rate(int part, int calls) => calls == 0 ? 0 : part * 100.0 / calls;
}
