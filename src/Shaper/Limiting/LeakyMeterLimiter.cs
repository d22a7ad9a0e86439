using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Shaper.Limiting;

/// <summary>
/// Leaky bucket as a meter (DOMAIN.md §1), the queue-less form of nginx <c>limit_req … nodelay</c>: a level
/// that leaks at <c>rate</c>; an arrival costing <c>c</c> passes if <c>level + c ≤ burst</c> and raises the
/// level by <c>c</c>, otherwise it is limited and changes nothing. This is GCRA: the level is the
/// theoretical arrival time minus now, held in exact scaled units rather than as a rounded TAT, so rates
/// that are not a whole number of nanoseconds per unit stay exact. (nginx lets <c>burst + 1</c> through at
/// once because it checks the excess before adding the arrival; here <c>burst</c> is the whole bucket.)
/// </summary>
public readonly struct LeakyMeterLimiter : IKeyedLimiter<LeakyMeterState>
{
    private readonly long _perNs;
    private readonly long _unitsPerToken;
    private readonly long _capacity;
    private readonly long _emptyAfterNs;
    private readonly long _burst;

    /// <summary>Creates a meter of <paramref name="burst"/> units leaking at <paramref name="rate"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">burst is not positive, or burst × rate period is too large.</exception>
    public LeakyMeterLimiter(Rate rate, long burst)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(burst);
        (_perNs, _unitsPerToken) = rate.Reduced();
        if (_perNs > ScaledMath.MaxScaled)
        {
            throw new ArgumentOutOfRangeException(nameof(rate), rate, "rate is too large.");
        }

        _burst = burst;
        _capacity = ScaledMath.Scale(burst, _unitsPerToken, nameof(burst));
        _emptyAfterNs = ScaledMath.CeilDiv(_capacity, _perNs);
        Rate = rate;
    }

    /// <summary>The leak rate.</summary>
    public Rate Rate { get; }

    /// <inheritdoc />
    public long Limit => _burst;

    /// <inheritdoc />
    public void Initialize(ref LeakyMeterState state, long nowNs)
    {
        state.Level = 0;
        state.LastNs = nowNs;
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public LimitDecision Acquire(ref LeakyMeterState state, long nowNs, long cost)
    {
        var elapsed = ScaledMath.Elapsed(nowNs, state.LastNs);
        if (elapsed > 0)
        {
            state.Level = Leaked(state.Level, elapsed);
            state.LastNs = nowNs;
        }

        if ((ulong)cost > (ulong)_burst)
        {
            return cost < 0 ? LimitDecision.Pass : new LimitDecision(LimitOutcome.Limited, LimitDecision.Never);
        }

        var add = cost * _unitsPerToken;
        if (state.Level + add <= _capacity)
        {
            state.Level += add;
            Debug.Assert(state.Level >= 0 && state.Level <= _capacity);
            return LimitDecision.Pass;
        }

        return new LimitDecision(LimitOutcome.Limited, ScaledMath.CeilDiv(state.Level + add - _capacity, _perNs));
    }

    /// <inheritdoc />
    /// <remarks>The level rises past the capacity, up to twice it; it leaks away as usual.</remarks>
    public void Force(ref LeakyMeterState state, long nowNs, long cost)
    {
        var elapsed = ScaledMath.Elapsed(nowNs, state.LastNs);
        if (elapsed > 0)
        {
            state.Level = Leaked(state.Level, elapsed);
            state.LastNs = nowNs;
        }

        state.Level = ScaledMath.AddUpToTwice(state.Level, Math.Clamp(cost, 0, _burst) * _unitsPerToken, _capacity);
    }

    /// <inheritdoc />
    public RateLimitStatus GetStatus(in LeakyMeterState state, long nowNs, long cost)
    {
        var level = LevelAt(state, nowNs);
        long retry;
        if (cost > _burst)
        {
            retry = LimitDecision.Never;
        }
        else
        {
            var add = Math.Max(cost, 0) * _unitsPerToken;
            retry = level + add <= _capacity ? 0 : ScaledMath.CeilDiv(level + add - _capacity, _perNs);
        }

        return new RateLimitStatus(Math.Max(_capacity - level, 0) / _unitsPerToken, _burst, retry);
    }

    /// <inheritdoc />
    public bool IsIdle(in LeakyMeterState state, long nowNs) => LevelAt(state, nowNs) == 0;

    /// <inheritdoc />
    public long LastSeenNs(in LeakyMeterState state) => state.LastNs;

    /// <inheritdoc />
    public void Release(ref LeakyMeterState state)
    {
    }

    private long LevelAt(in LeakyMeterState state, long nowNs)
    {
        var elapsed = ScaledMath.Elapsed(nowNs, state.LastNs);
        return elapsed > 0 ? Leaked(state.Level, elapsed) : state.Level;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long Leaked(long level, long elapsedNs)
    {
        if (level > _capacity && elapsedNs >= _emptyAfterNs)
        {
            // Over the capacity (Force), at most twice it: an emptying's time takes it back under; the time left leaks as usual.
            level = Math.Max(level - (_emptyAfterNs * _perNs), 0);
            elapsedNs -= _emptyAfterNs;
        }

        // elapsed < _emptyAfterNs bounds elapsed × perNs by capacity + perNs: no overflow.
        if (elapsedNs >= _emptyAfterNs)
        {
            return 0;
        }

        var leaked = level - (elapsedNs * _perNs);
        return leaked > 0 ? leaked : 0;
    }
}
