using Shaper.Limiting;

namespace Shaper.Tests.Limiting;

/// <summary>
/// The contract every algorithm keeps; each algorithm's test class derives from this one and says what
/// its parameters allow. Times start at a Unix-epoch nanosecond timestamp, as captures carry them.
/// </summary>
public abstract class LimiterContractTests<TState, TLimiter>
    where TState : unmanaged
    where TLimiter : struct, IKeyedLimiter<TState>
{
    protected const long Second = 1_000_000_000;
    protected const long T0 = 1_700_000_000 * Second;

    /// <summary>A fresh limiter with the class's parameters.</summary>
    protected abstract TLimiter Create();

    /// <summary>Arrivals at one instant accepted (now or later) from a fresh key before the first is limited.</summary>
    protected abstract long InitialAllowance { get; }

    /// <summary>The most arrivals the semantics allow to be accepted within any closed interval of this length.</summary>
    protected abstract long MaxAccepted(long intervalNs);

    protected static LimitDecision Acquire(TLimiter limiter, ref TState state, long now, long cost = 1) => limiter.Acquire(ref state, now, cost);

    protected TState Fresh(TLimiter limiter, long now = T0)
    {
        var state = default(TState);
        limiter.Initialize(ref state, now);
        return state;
    }

    [Fact]
    public void Acquire_FreshKeyBurstAtOneInstant_AcceptsItsAllowanceThenLimits()
    {
        var limiter = Create();
        var state = Fresh(limiter);
        for (var i = 0; i < InitialAllowance; i++)
        {
            Assert.True(Acquire(limiter, ref state, T0).IsAccepted, $"arrival {i} of the initial allowance");
        }

        Assert.Equal(LimitOutcome.Limited, Acquire(limiter, ref state, T0).Outcome);
    }

    [Fact]
    public void Force_PastTheLimit_KeyWaitsAtLeastAsLongReportsNothingLeftAndRecovers()
    {
        var limiter = Create();
        var state = Fresh(limiter);
        while (Acquire(limiter, ref state, T0).IsAccepted)
        {
        }

        var before = limiter.GetStatus(state, T0, 1).RetryAfterNs;
        for (var i = 0; i < 3; i++)
        {
            limiter.Force(ref state, T0, 1);
        }

        var after = limiter.GetStatus(state, T0, 1);
        Assert.True(after.RetryAfterNs >= before, $"retry-after {after.RetryAfterNs} ns after forcing, {before} ns before");
        Assert.Equal(0, after.Remaining);
        Assert.Equal(LimitOutcome.Limited, Acquire(limiter, ref state, T0).Outcome);

        // Whatever was forced, the key is whole again once enough time has passed.
        var later = T0 + (100 * Second);
        Assert.True(limiter.IsIdle(state, later));
        Assert.True(Acquire(limiter, ref state, later).IsAccepted);
    }

    [Fact]
    public void Acquire_FreshKey_IsIdleAndReportsItsLimit()
    {
        var limiter = Create();
        var state = Fresh(limiter);
        Assert.True(limiter.IsIdle(state, T0));
        Assert.Equal(limiter.Limit, limiter.GetStatus(state, T0, 1).Limit);
        Assert.Equal(0, limiter.GetStatus(state, T0, 1).RetryAfterNs);
    }

    [Theory]
    [InlineData(1)] // seeds: several independent random arrival patterns
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Acquire_RandomArrivals_NeverAcceptsMoreThanTheLimitAllowsInAnyInterval(int seed)
    {
        var limiter = Create();
        var state = Fresh(limiter);
        var accepted = new List<long>();
        foreach (var t in Arrivals(seed, 20_000))
        {
            if (Acquire(limiter, ref state, t).IsAccepted)
            {
                accepted.Add(t);
            }
        }

        Assert.NotEmpty(accepted);
        foreach (var length in new[] { 0, Second / 100, Second / 3, Second, (3 * Second) / 2, 10 * Second, 61 * Second })
        {
            var max = MaxAccepted(length);
            for (int i = 0, j = 0; i < accepted.Count; i++)
            {
                while (j < accepted.Count && accepted[j] - accepted[i] <= length)
                {
                    j++;
                }

                Assert.True(j - i <= max, $"{j - i} accepted within {length} ns from {accepted[i]}, at most {max} allowed");
            }
        }
    }

    [Fact]
    public void Acquire_SameTimestampsTwice_SameDecisions()
    {
        var first = Create();
        var second = Create();
        var a = Fresh(first);
        var b = Fresh(second);
        foreach (var t in Arrivals(9, 5_000))
        {
            Assert.Equal(Acquire(first, ref a, t), Acquire(second, ref b, t));
        }
    }

    [Fact]
    public void GetStatus_DoesNotChangeTheState()
    {
        var limiter = Create();
        var state = Fresh(limiter);
        var shadowLimiter = Create();
        var shadow = Fresh(shadowLimiter);
        foreach (var t in Arrivals(11, 2_000))
        {
            var before = limiter.GetStatus(state, t, 1);
            Assert.Equal(before, limiter.GetStatus(state, t, 1));
            Assert.Equal(Acquire(shadowLimiter, ref shadow, t), Acquire(limiter, ref state, t));
        }
    }

    [Fact]
    public void Acquire_LimitedThenRetryAfter_PassesThen()
    {
        var limiter = Create();
        var state = Fresh(limiter);
        LimitDecision decision;
        var now = T0;
        while ((decision = Acquire(limiter, ref state, now)).IsAccepted)
        {
        }

        Assert.NotEqual(LimitDecision.Never, decision.DelayNs);
        Assert.True(decision.DelayNs > 0);
        Assert.True(Acquire(limiter, ref state, now + decision.DelayNs).IsAccepted, $"not accepted {decision.DelayNs} ns later");
    }

    [Fact]
    public void Acquire_TimeGoesBackwards_GrantsNothingExtra()
    {
        var limiter = Create();
        var state = Fresh(limiter);
        while (Acquire(limiter, ref state, T0 + Second).IsAccepted)
        {
        }

        // Earlier timestamps after the key is exhausted: no time has passed for the limiter.
        Assert.Equal(LimitOutcome.Limited, Acquire(limiter, ref state, T0).Outcome);
        Assert.Equal(LimitOutcome.Limited, Acquire(limiter, ref state, long.MinValue).Outcome);
        Assert.Equal(LimitOutcome.Limited, Acquire(limiter, ref state, T0 + Second).Outcome);
    }

    [Theory]
    [InlineData(long.MinValue, long.MaxValue)] // the whole clock in one step
    [InlineData(0, long.MaxValue / 2)] // a huge gap
    [InlineData(long.MaxValue, long.MinValue)] // from the end of time to its start
    [InlineData(long.MaxValue - 1, long.MaxValue)] // at the very end
    public void Acquire_ExtremeTimestamps_NeverThrowsOrOverflows(long first, long second)
    {
        var limiter = Create();
        var state = Fresh(limiter, first);
        foreach (var t in new[] { first, second, first, second, second })
        {
            foreach (var cost in new[] { 0L, 1L, -1L, long.MaxValue, long.MinValue, limiter.Limit, limiter.Limit + 1 })
            {
                var decision = Acquire(limiter, ref state, t, cost);
                Assert.True(decision.DelayNs >= 0, $"negative delay {decision.DelayNs}");
                var status = limiter.GetStatus(state, t, cost);
                Assert.InRange(status.Remaining, 0, limiter.Limit);
                Assert.True(status.RetryAfterNs >= 0);
                _ = limiter.IsIdle(state, t);
            }
        }
    }

    [Fact]
    public void Acquire_CostAboveTheLimit_IsLimitedForEverOrCountsAsOneArrival()
    {
        var limiter = Create();
        var state = Fresh(limiter);
        var decision = Acquire(limiter, ref state, T0, limiter.Limit + 1);
        if (CostCounts)
        {
            Assert.Equal(new LimitDecision(LimitOutcome.Limited, LimitDecision.Never), decision);
        }
        else
        {
            // The queue and the log count arrivals, not their size.
            Assert.True(decision.IsAccepted);
        }
    }

    /// <summary>False for algorithms that count each arrival once whatever its cost (the queue, the log).</summary>
    protected virtual bool CostCounts => true;

    /// <summary>Bursts at one instant, steady trickles, and long pauses, from a fixed seed.</summary>
    protected static IEnumerable<long> Arrivals(int seed, int count)
    {
        var rng = new Random(seed);
        var t = T0 + rng.NextInt64(Second);
        for (var i = 0; i < count; i++)
        {
            yield return t;
            t += rng.Next(10) switch
            {
                < 4 => 0, // same instant
                < 8 => rng.NextInt64(Second / 20), // a busy trickle
                8 => rng.NextInt64(2 * Second), // a pause
                _ => rng.NextInt64(90 * Second), // a long pause
            };
        }
    }
}
