using System.Runtime.CompilerServices;

namespace Shaper.Limiting;

/// <summary>
/// Sliding window counter (DOMAIN.md §1): estimate = <c>current + previous × overlap</c>, where overlap is
/// the fraction of the sliding window that still lies in the previous fixed window; an arrival passes if
/// the estimate is below <c>limit</c>, and is then counted. Book example: limit 7/min, previous minute 5,
/// current 3, an arrival 30 % into the minute: 3 + 5 × 0.7 = 6.5 &lt; 7 passes. The comparison is exact
/// (scaled by the window length in 128-bit integers), never a rounded fraction. Windows are aligned like
/// the fixed window's.
/// </summary>
public readonly struct SlidingWindowLimiter : IKeyedLimiter<SlidingWindowState>
{
    private readonly long _limit;
    private readonly long _windowNs;

    /// <summary>Creates a limiter of <paramref name="limit"/> per sliding <paramref name="window"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">limit or window is not positive.</exception>
    public SlidingWindowLimiter(long limit, TimeSpan window)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        _limit = limit;
        _windowNs = window.Ticks * 100;
    }

    /// <inheritdoc />
    public long Limit => _limit;

    /// <inheritdoc />
    public void Initialize(ref SlidingWindowState state, long nowNs)
    {
        state.Window = WindowMath.Index(nowNs, _windowNs);
        state.Current = 0;
        state.Previous = 0;
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public LimitDecision Acquire(ref SlidingWindowState state, long nowNs, long cost)
    {
        Advance(ref state, nowNs);
        cost = Math.Max(cost, 0);
        if (cost > _limit)
        {
            return new LimitDecision(LimitOutcome.Limited, LimitDecision.Never);
        }

        var elapsed = Elapsed(state, nowNs);
        if (Passes(state.Current, state.Previous, elapsed, cost))
        {
            state.Current += cost;
            return LimitDecision.Pass;
        }

        return new LimitDecision(LimitOutcome.Limited, RetryAfter(state, elapsed, cost));
    }

    /// <inheritdoc />
    /// <remarks>The current window's count rises past the limit, up to twice it.</remarks>
    public void Force(ref SlidingWindowState state, long nowNs, long cost)
    {
        Advance(ref state, nowNs);
        state.Current = ScaledMath.AddUpToTwice(state.Current, Math.Clamp(cost, 0, _limit), _limit);
    }

    /// <inheritdoc />
    public RateLimitStatus GetStatus(in SlidingWindowState state, long nowNs, long cost)
    {
        var copy = state;
        Advance(ref copy, nowNs);
        var elapsed = Elapsed(copy, nowNs);
        var weighted = (copy.Current * (Int128)_windowNs) + (copy.Previous * (Int128)(_windowNs - elapsed));
        var estimate = (long)((weighted + _windowNs - 1) / _windowNs);
        cost = Math.Max(cost, 0);
        var retry = cost > _limit ? LimitDecision.Never
            : Passes(copy.Current, copy.Previous, elapsed, cost) ? 0
            : RetryAfter(copy, elapsed, cost);
        return new RateLimitStatus(Math.Max(_limit - estimate, 0), _limit, retry);
    }

    /// <inheritdoc />
    public bool IsIdle(in SlidingWindowState state, long nowNs)
    {
        var index = WindowMath.Index(nowNs, _windowNs);
        return index > state.Window + 1 || (state.Current == 0 && (state.Previous == 0 || index > state.Window));
    }

    /// <inheritdoc />
    public long LastSeenNs(in SlidingWindowState state) => WindowMath.Start(state.Window, _windowNs);

    /// <inheritdoc />
    public void Release(ref SlidingWindowState state)
    {
    }

    private void Advance(ref SlidingWindowState state, long nowNs)
    {
        // An earlier window (time going backwards) counts in the current one.
        var index = WindowMath.Index(nowNs, _windowNs);
        if (index == state.Window + 1)
        {
            state.Previous = state.Current;
            state.Current = 0;
            state.Window = index;
        }
        else if (index > state.Window + 1)
        {
            state.Previous = 0;
            state.Current = 0;
            state.Window = index;
        }
    }

    /// <summary>Nanoseconds into the current window, within [0, window).</summary>
    private long Elapsed(in SlidingWindowState state, long nowNs)
    {
        var elapsed = (Int128)nowNs - ((Int128)state.Window * _windowNs);
        return elapsed < 0 ? 0 : (long)elapsed;
    }

    /// <summary>(current + cost − 1) + previous × (window − elapsed) / window &lt; limit, exactly.</summary>
    private bool Passes(long current, long previous, long elapsed, long cost) =>
        ((current + cost - 1) * (Int128)_windowNs) + (previous * (Int128)(_windowNs - elapsed)) < _limit * (Int128)_windowNs;

    private long RetryAfter(in SlidingWindowState state, long elapsed, long cost)
    {
        // Within this window only the previous window's weight shrinks: find the first elapsed e' with
        // previous × (W − e') < (limit − current − cost + 1) × W.
        var room = (_limit - state.Current - cost + 1) * (Int128)_windowNs;
        if (room > 0 && state.Previous > 0)
        {
            var need = (Int128)_windowNs - (room / state.Previous);
            var at = need < elapsed ? elapsed : need;
            if (at < _windowNs)
            {
                return (long)(at - elapsed) + 1;
            }
        }

        // Otherwise in the next window, where this window's count becomes the previous one.
        var untilNext = _windowNs - elapsed;
        var nextRoom = (_limit - cost + 1) * (Int128)_windowNs;
        if (state.Current == 0)
        {
            return untilNext;
        }

        // A count over the limit (Force) leaves no room in the next window either: the one after starts empty.
        var into = (Int128)_windowNs - (nextRoom / state.Current);
        return untilNext + (long)(into < 0 ? 0 : into >= _windowNs ? _windowNs : into + 1);
    }
}
