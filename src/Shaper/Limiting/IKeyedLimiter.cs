namespace Shaper.Limiting;

/// <summary>
/// One rate-limiting algorithm over per-key state held by the caller (the
/// <see cref="LimiterTable{TKey,TState,TLimiter}"/>). Implementations are structs so that the
/// table's generic code is specialised and inlined per algorithm; they never read a clock:
/// every call carries <c>nowNs</c>, a timestamp in nanoseconds on the caller's clock.
/// Time going backwards is treated as no time passing; no input throws or overflows.
/// </summary>
/// <typeparam name="TState">The per-key state, a small unmanaged struct.</typeparam>
public interface IKeyedLimiter<TState>
    where TState : unmanaged
{
    /// <summary>The configured limit reported as <c>X-Ratelimit-Limit</c>.</summary>
    long Limit { get; }

    /// <summary>Sets up the state of a key seen for the first time at <paramref name="nowNs"/>.</summary>
    void Initialize(ref TState state, long nowNs);

    /// <summary>Decides one arrival costing <paramref name="cost"/> (1 per packet, or its bytes) and updates the state.</summary>
    LimitDecision Acquire(ref TState state, long nowNs, long cost);

    /// <summary>
    /// Records an arrival costing <paramref name="cost"/> that got through whatever the state allowed (the kernel let it
    /// in before the hold that would have stopped it was installed): the state counts it as passed, over the limit if
    /// need be, so the key's next arrivals wait for it as they would for any passed one. A key owes at most one more
    /// limit's worth than the limit.
    /// </summary>
    void Force(ref TState state, long nowNs, long cost);

    /// <summary>The key's status at <paramref name="nowNs"/> for an arrival of <paramref name="cost"/>, without changing it.</summary>
    RateLimitStatus GetStatus(in TState state, long nowNs, long cost);

    /// <summary>True when the state is indistinguishable from a fresh key's: evicting it loses nothing.</summary>
    bool IsIdle(in TState state, long nowNs);

    /// <summary>The last time the key was seen, for least-recently-used eviction.</summary>
    long LastSeenNs(in TState state);

    /// <summary>Frees anything the state holds outside itself (the sliding log's ring) when the key leaves.</summary>
    void Release(ref TState state);
}
