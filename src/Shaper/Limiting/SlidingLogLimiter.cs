namespace Shaper.Limiting;

/// <summary>
/// Sliding window log (DOMAIN.md §1): keeps the timestamps of the <b>accepted</b> arrivals of the last
/// <c>window</c> (some implementations also log rejected ones; we do not, so a key that keeps knocking is
/// not locked out for ever) and passes an arrival if fewer than <c>limit</c> lie in <c>(now − window, now]</c>.
/// Exact, with no boundary effect; memory is a ring of <c>limit</c> timestamps per key, from an arena
/// sized for <c>maxKeys</c> keys. Should the arena run out (more live keys than it was built for), a new key
/// fails open rather than throw: it passes, and is counted by the table's caller as any pass.
/// Each arrival is one entry whatever its cost.
/// </summary>
public readonly struct SlidingLogLimiter : IKeyedLimiter<SlidingLogState>
{
    /// <summary>The largest limit: every key holds this many timestamps.</summary>
    public const long MaxLimit = 100_000;

    private readonly int _limit;
    private readonly long _windowNs;
    private readonly SlidingLogArena _arena;

    /// <summary>Creates a log of <paramref name="limit"/> per <paramref name="window"/> for at most <paramref name="maxKeys"/> keys at once.</summary>
    /// <exception cref="ArgumentOutOfRangeException">limit is not in 1…<see cref="MaxLimit"/>, window or maxKeys not positive.</exception>
    public SlidingLogLimiter(long limit, TimeSpan window, int maxKeys)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, MaxLimit);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxKeys);
        _limit = (int)limit;
        _windowNs = window.Ticks * 100;
        _arena = new SlidingLogArena(_limit, maxKeys);
    }

    /// <inheritdoc />
    public long Limit => _limit;

    /// <summary>Keys holding a ring now.</summary>
    internal int RingsInUse => _arena.InUse;

    /// <inheritdoc />
    public void Initialize(ref SlidingLogState state, long nowNs)
    {
        state.Ring = _arena.Rent();
        state.Head = 0;
        state.Count = 0;
        state.LastNs = nowNs;
    }

    /// <inheritdoc />
    public LimitDecision Acquire(ref SlidingLogState state, long nowNs, long cost) =>
        Append(ref state, nowNs, force: false, out var retryNs) ? LimitDecision.Pass : new LimitDecision(LimitOutcome.Limited, retryNs);

    /// <inheritdoc />
    /// <remarks>
    /// A full log drops its oldest entry for the arrival: while that entry would still be in the window every later
    /// one is too, so the log refuses exactly as one that kept both, and once it leaves the two agree again.
    /// </remarks>
    public void Force(ref SlidingLogState state, long nowNs, long cost) => _ = Append(ref state, nowNs, force: true, out _);

    /// <inheritdoc />
    public RateLimitStatus GetStatus(in SlidingLogState state, long nowNs, long cost)
    {
        if (state.Ring < 0)
        {
            return new RateLimitStatus(_limit, _limit, 0);
        }

        var now = Math.Max(nowNs, state.LastNs);
        var ring = _arena.Ring(state.Ring);
        var copy = state;
        Expire(ref copy, ring, now);
        return new RateLimitStatus(_limit - copy.Count, _limit, copy.Count < _limit ? 0 : RetryAfter(copy, ring, now));
    }

    /// <inheritdoc />
    public bool IsIdle(in SlidingLogState state, long nowNs)
    {
        if (state.Ring < 0 || state.Count == 0)
        {
            return true;
        }

        // Idle once the newest logged arrival has left the window.
        var ring = _arena.Ring(state.Ring);
        var newest = ring[(state.Head + state.Count - 1) % _limit];
        return ScaledMath.Elapsed(Math.Max(nowNs, state.LastNs), newest) >= _windowNs;
    }

    /// <inheritdoc />
    public long LastSeenNs(in SlidingLogState state) => state.LastNs;

    /// <inheritdoc />
    public void Release(ref SlidingLogState state)
    {
        _arena.Return(state.Ring);
        state.Ring = -1;
    }

    /// <summary>
    /// Logs an arrival at <paramref name="nowNs"/> when the log has room, or, to <paramref name="force"/> it, in place of
    /// the oldest entry (true); else leaves the log as it was and says when the oldest entry leaves (false). A key
    /// without a ring passes.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private bool Append(ref SlidingLogState state, long nowNs, bool force, out long retryNs)
    {
        retryNs = 0;
        if (state.Ring < 0)
        {
            return true;
        }

        var now = Math.Max(nowNs, state.LastNs);
        state.LastNs = now;
        var ring = _arena.Ring(state.Ring);
        Expire(ref state, ring, now);
        if (state.Count < _limit)
        {
            ring[(state.Head + state.Count) % _limit] = now;
            state.Count++;
            return true;
        }

        if (force)
        {
            ring[state.Head] = now;
            state.Head = (state.Head + 1) % _limit;
            return true;
        }

        retryNs = RetryAfter(state, ring, now);
        return false;
    }

    private void Expire(ref SlidingLogState state, Span<long> ring, long now)
    {
        // An entry at t is in the window while now − t < window.
        while (state.Count > 0 && ScaledMath.Elapsed(now, ring[state.Head]) >= _windowNs)
        {
            state.Head = (state.Head + 1) % _limit;
            state.Count--;
        }
    }

    /// <summary>When the oldest logged arrival leaves the window.</summary>
    private long RetryAfter(in SlidingLogState state, Span<long> ring, long now) => _windowNs - ScaledMath.Elapsed(now, ring[state.Head]);
}
