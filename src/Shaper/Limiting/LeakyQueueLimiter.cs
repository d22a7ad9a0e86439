using System.Runtime.CompilerServices;

namespace Shaper.Limiting;

/// <summary>
/// Leaky bucket as a queue (DOMAIN.md §1; nginx <c>limit_req</c> without <c>nodelay</c>): departures are
/// spaced at least <c>1/rate</c> apart. An arrival that may leave at once (nothing waiting and the last
/// departure at least <c>1/rate</c> ago) passes with no delay and never occupies the queue. Otherwise it
/// waits in a FIFO of at most <c>queue</c> arrivals and leaves at its slot (<see cref="LimitOutcome.Delayed"/>
/// with the delay); when the FIFO is full it is dropped (the newest is dropped). Each arrival is one slot,
/// whatever its cost: the queue holds packets. The FIFO needs no storage: with departures at fixed
/// spacing, the time until the last slot ends (the backlog) says how many are waiting.
/// </summary>
public readonly struct LeakyQueueLimiter : IKeyedLimiter<LeakyQueueState>
{
    private readonly long _perNs;
    private readonly long _slot;
    private readonly long _queue;
    private readonly long _emptyAfterNs;

    /// <summary>Creates a queue of <paramref name="queue"/> arrivals draining at <paramref name="rate"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">queue is negative, or (queue + 1) × rate period is too large.</exception>
    public LeakyQueueLimiter(Rate rate, long queue)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(queue);
        (_perNs, _slot) = rate.Reduced();
        if (_perNs > ScaledMath.MaxScaled)
        {
            throw new ArgumentOutOfRangeException(nameof(rate), rate, "rate is too large.");
        }

        _queue = queue;
        var maxBacklog = ScaledMath.Scale(queue + 1, _slot, nameof(queue));
        _emptyAfterNs = ScaledMath.CeilDiv(maxBacklog, _perNs);
        Rate = rate;
    }

    /// <summary>The drain rate.</summary>
    public Rate Rate { get; }

    /// <inheritdoc />
    public long Limit => _queue;

    /// <inheritdoc />
    public void Initialize(ref LeakyQueueState state, long nowNs)
    {
        state.Backlog = 0;
        state.LastNs = nowNs;
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public LimitDecision Acquire(ref LeakyQueueState state, long nowNs, long cost)
    {
        var elapsed = ScaledMath.Elapsed(nowNs, state.LastNs);
        if (elapsed > 0)
        {
            state.Backlog = Drained(state.Backlog, elapsed);
            state.LastNs = nowNs;
        }

        if (state.Backlog == 0)
        {
            state.Backlog = _slot;
            return LimitDecision.Pass;
        }

        if (Waiting(state.Backlog) >= _queue)
        {
            return new LimitDecision(LimitOutcome.Limited, RetryAfter(state.Backlog));
        }

        var delay = ScaledMath.CeilDiv(state.Backlog, _perNs);
        state.Backlog += _slot;
        return new LimitDecision(LimitOutcome.Delayed, delay);
    }

    /// <inheritdoc />
    /// <remarks>A queue holds its packets itself, so nothing gets past it: the arrival is queued as any other.</remarks>
    public void Force(ref LeakyQueueState state, long nowNs, long cost) => _ = Acquire(ref state, nowNs, cost);

    /// <inheritdoc />
    public RateLimitStatus GetStatus(in LeakyQueueState state, long nowNs, long cost)
    {
        var elapsed = ScaledMath.Elapsed(nowNs, state.LastNs);
        var backlog = elapsed > 0 ? Drained(state.Backlog, elapsed) : state.Backlog;
        var waiting = backlog == 0 ? 0 : Waiting(backlog);
        var retry = backlog == 0 || waiting < _queue ? 0 : RetryAfter(backlog);
        return new RateLimitStatus(Math.Max(_queue - waiting, 0), _queue, retry);
    }

    /// <inheritdoc />
    public bool IsIdle(in LeakyQueueState state, long nowNs) =>
        state.Backlog == 0 || Drained(state.Backlog, ScaledMath.Elapsed(nowNs, state.LastNs)) == 0;

    /// <inheritdoc />
    public long LastSeenNs(in LeakyQueueState state) => state.LastNs;

    /// <inheritdoc />
    public void Release(ref LeakyQueueState state)
    {
    }

    /// <summary>Arrivals waiting: every scheduled slot but the one departing now or already gone.</summary>
    private long Waiting(long backlog) => ScaledMath.CeilDiv(backlog, _slot) - 1;

    /// <summary>Time until one more arrival fits: the backlog must drain to at most queue slots.</summary>
    private long RetryAfter(long backlog) => ScaledMath.CeilDiv(backlog - (_queue * _slot), _perNs);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long Drained(long backlog, long elapsedNs)
    {
        if (elapsedNs >= _emptyAfterNs)
        {
            return 0;
        }

        var drained = backlog - (elapsedNs * _perNs);
        return drained > 0 ? drained : 0;
    }
}
