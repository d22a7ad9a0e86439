using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Shaper.Limiting;

/// <summary>
/// Token bucket (DOMAIN.md §1, API Gateway §2): the bucket starts full with <c>burst</c> tokens and
/// refills continuously at <c>rate</c>, capped at <c>burst</c>. An arrival costing <c>c</c> passes if
/// at least <c>c</c> tokens are there and takes them; otherwise it is limited and takes nothing.
/// Tokens are held as exact scaled integers, so no rounding drifts over time.
/// </summary>
public readonly struct TokenBucketLimiter : IKeyedLimiter<TokenBucketState>
{
    private readonly long _perNs;
    private readonly long _unitsPerToken;
    private readonly long _capacity;
    private readonly long _fullAfterNs;
    private readonly long _burst;

    /// <summary>Creates a token bucket of <paramref name="burst"/> tokens refilled at <paramref name="rate"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">burst is not positive, or burst × rate period is too large.</exception>
    public TokenBucketLimiter(Rate rate, long burst)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(burst);
        if (rate.Amount <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(rate), rate, "rate must be positive.");
        }

        (_perNs, _unitsPerToken) = rate.Reduced();
        if (_perNs > ScaledMath.MaxScaled)
        {
            throw new ArgumentOutOfRangeException(nameof(rate), rate, "rate is too large.");
        }

        _burst = burst;
        _capacity = ScaledMath.Scale(burst, _unitsPerToken, nameof(burst));
        _fullAfterNs = ScaledMath.CeilDiv(_capacity, _perNs);
        Rate = rate;
    }

    /// <summary>The refill rate.</summary>
    public Rate Rate { get; }

    /// <inheritdoc />
    public long Limit => _burst;

    /// <inheritdoc />
    public void Initialize(ref TokenBucketState state, long nowNs)
    {
        state.Tokens = _capacity;
        state.LastNs = nowNs;
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public LimitDecision Acquire(ref TokenBucketState state, long nowNs, long cost)
    {
        var elapsed = ScaledMath.Elapsed(nowNs, state.LastNs);
        if (elapsed > 0)
        {
            state.Tokens = Refilled(state.Tokens, elapsed);
            state.LastNs = nowNs;
        }

        if ((ulong)cost > (ulong)_burst)
        {
            return cost < 0 ? LimitDecision.Pass : new LimitDecision(LimitOutcome.Limited, LimitDecision.Never);
        }

        var need = cost * _unitsPerToken;
        if (state.Tokens >= need)
        {
            state.Tokens -= need;
            Debug.Assert(state.Tokens >= 0 && state.Tokens <= _capacity);
            return LimitDecision.Pass;
        }

        return new LimitDecision(LimitOutcome.Limited, ScaledMath.CeilDiv(need - state.Tokens, _perNs));
    }

    /// <inheritdoc />
    /// <remarks>The bucket goes into debt, down to minus its capacity; refills pay the debt first.</remarks>
    public void Force(ref TokenBucketState state, long nowNs, long cost)
    {
        var elapsed = ScaledMath.Elapsed(nowNs, state.LastNs);
        if (elapsed > 0)
        {
            state.Tokens = Refilled(state.Tokens, elapsed);
            state.LastNs = nowNs;
        }

        state.Tokens = Math.Max(state.Tokens - (Math.Clamp(cost, 0, _burst) * _unitsPerToken), -_capacity);
    }

    /// <inheritdoc />
    public RateLimitStatus GetStatus(in TokenBucketState state, long nowNs, long cost)
    {
        var tokens = TokensAt(state, nowNs);
        var remaining = Math.Max(tokens, 0) / _unitsPerToken;
        long retry;
        if (cost > _burst)
        {
            retry = LimitDecision.Never;
        }
        else
        {
            var need = Math.Max(cost, 0) * _unitsPerToken;
            retry = tokens >= need ? 0 : ScaledMath.CeilDiv(need - tokens, _perNs);
        }

        return new RateLimitStatus(remaining, _burst, retry);
    }

    /// <inheritdoc />
    public bool IsIdle(in TokenBucketState state, long nowNs) => TokensAt(state, nowNs) == _capacity;

    /// <inheritdoc />
    public long LastSeenNs(in TokenBucketState state) => state.LastNs;

    /// <inheritdoc />
    public void Release(ref TokenBucketState state)
    {
    }

    private long TokensAt(in TokenBucketState state, long nowNs)
    {
        var elapsed = ScaledMath.Elapsed(nowNs, state.LastNs);
        return elapsed > 0 ? Refilled(state.Tokens, elapsed) : state.Tokens;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long Refilled(long tokens, long elapsedNs)
    {
        if (tokens < 0 && elapsedNs >= _fullAfterNs)
        {
            // A debt (Force) of at most the capacity: a full refill's time pays it off; the time left refills as usual.
            tokens = Math.Min(tokens + (_fullAfterNs * _perNs), _capacity);
            elapsedNs -= _fullAfterNs;
        }

        // elapsed < _fullAfterNs bounds elapsed × perNs by capacity + perNs, so the product cannot overflow.
        if (elapsedNs >= _fullAfterNs)
        {
            return _capacity;
        }

        var refilled = tokens + (elapsedNs * _perNs);
        return refilled < _capacity ? refilled : _capacity;
    }
}
