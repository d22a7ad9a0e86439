using System.Runtime.CompilerServices;

namespace Shaper.Limiting;

/// <summary>
/// Fixed window counter (DOMAIN.md §1): time is cut into windows aligned to multiples of the window on the
/// timestamp's own clock (Unix time for captures, as Lyft's rate-limit service aligns them); arrivals past
/// <c>limit</c> in the current window are limited. Its known weakness: <c>limit</c> arrivals just before a
/// boundary and <c>limit</c> just after all pass, twice the limit within one window length.
/// </summary>
public readonly struct FixedWindowLimiter : IKeyedLimiter<FixedWindowState>
{
    private readonly long _limit;
    private readonly long _windowNs;

    /// <summary>Creates a limiter of <paramref name="limit"/> per <paramref name="window"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">limit or window is not positive.</exception>
    public FixedWindowLimiter(long limit, TimeSpan window)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        _limit = limit;
        _windowNs = window.Ticks * 100;
    }

    /// <inheritdoc />
    public long Limit => _limit;

    /// <inheritdoc />
    public void Initialize(ref FixedWindowState state, long nowNs)
    {
        state.Window = WindowMath.Index(nowNs, _windowNs);
        state.Count = 0;
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public LimitDecision Acquire(ref FixedWindowState state, long nowNs, long cost)
    {
        // A timestamp from an earlier window (time going backwards) counts in the current one: never a fresh window.
        var index = WindowMath.Index(nowNs, _windowNs);
        if (index > state.Window)
        {
            state.Window = index;
            state.Count = 0;
        }

        cost = Math.Max(cost, 0);
        if (cost > _limit)
        {
            return new LimitDecision(LimitOutcome.Limited, LimitDecision.Never);
        }

        if (state.Count + cost <= _limit)
        {
            state.Count += cost;
            return LimitDecision.Pass;
        }

        return new LimitDecision(LimitOutcome.Limited, WindowMath.UntilNext(state.Window, _windowNs, Math.Max(nowNs, WindowMath.Start(state.Window, _windowNs))));
    }

    /// <inheritdoc />
    /// <remarks>The window's count rises past the limit, up to twice it.</remarks>
    public void Force(ref FixedWindowState state, long nowNs, long cost)
    {
        var index = WindowMath.Index(nowNs, _windowNs);
        if (index > state.Window)
        {
            state.Window = index;
            state.Count = 0;
        }

        state.Count = ScaledMath.AddUpToTwice(state.Count, Math.Clamp(cost, 0, _limit), _limit);
    }

    /// <inheritdoc />
    public RateLimitStatus GetStatus(in FixedWindowState state, long nowNs, long cost)
    {
        var index = WindowMath.Index(nowNs, _windowNs);
        var count = index > state.Window ? 0 : state.Count;
        var window = Math.Max(index, state.Window);
        var retry = cost > _limit ? LimitDecision.Never
            : count + Math.Max(cost, 0) <= _limit ? 0
            : WindowMath.UntilNext(window, _windowNs, Math.Max(nowNs, WindowMath.Start(window, _windowNs)));
        return new RateLimitStatus(Math.Max(_limit - count, 0), _limit, retry);
    }

    /// <inheritdoc />
    public bool IsIdle(in FixedWindowState state, long nowNs) =>
        state.Count == 0 || WindowMath.Index(nowNs, _windowNs) > state.Window;

    /// <inheritdoc />
    public long LastSeenNs(in FixedWindowState state) => WindowMath.Start(state.Window, _windowNs);

    /// <inheritdoc />
    public void Release(ref FixedWindowState state)
    {
    }
}
