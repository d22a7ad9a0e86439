using System.Runtime.CompilerServices;
using Shaper.Limiting;

namespace Shaper.Engine;

/// <summary>Wraps an algorithm so that every decision also updates the key's <see cref="KeyCounters"/>.</summary>
public readonly struct CountingLimiter<TState, TLimiter> : IKeyedLimiter<CountedState<TState>>
    where TState : unmanaged
    where TLimiter : struct, IKeyedLimiter<TState>
{
    private readonly TLimiter _inner;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    public CountingLimiter(TLimiter inner) => _inner = inner;

    /// <inheritdoc />
    public long Limit => _inner.Limit;

    /// <inheritdoc />
    public void Initialize(ref CountedState<TState> state, long nowNs)
    {
        state.Counters = default;
        _inner.Initialize(ref state.Inner, nowNs);
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public LimitDecision Acquire(ref CountedState<TState> state, long nowNs, long cost)
    {
        var decision = _inner.Acquire(ref state.Inner, nowNs, cost);
        switch (decision.Outcome)
        {
            case LimitOutcome.Passed:
                state.Counters.Passed++;
                break;
            case LimitOutcome.Delayed:
                state.Counters.Delayed++;
                var ms = (uint)Math.Min((decision.DelayNs + 999_999) / 1_000_000, uint.MaxValue);
                if (ms > state.Counters.MaxDelayMs)
                {
                    state.Counters.MaxDelayMs = ms;
                }

                break;
            default:
                state.Counters.Limited++;
                break;
        }

        return decision;
    }

    /// <inheritdoc />
    public void Force(ref CountedState<TState> state, long nowNs, long cost)
    {
        _inner.Force(ref state.Inner, nowNs, cost);
        state.Counters.Passed++;
    }

    /// <inheritdoc />
    public RateLimitStatus GetStatus(in CountedState<TState> state, long nowNs, long cost) => _inner.GetStatus(state.Inner, nowNs, cost);

    /// <inheritdoc />
    public bool IsIdle(in CountedState<TState> state, long nowNs) => _inner.IsIdle(state.Inner, nowNs);

    /// <inheritdoc />
    public long LastSeenNs(in CountedState<TState> state) => _inner.LastSeenNs(state.Inner);

    /// <inheritdoc />
    public void Release(ref CountedState<TState> state) => _inner.Release(ref state.Inner);
}
