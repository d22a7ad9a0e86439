using Shaper.Limiting;

namespace Shaper.Tests.Limiting;

/// <summary>DOMAIN.md's worked examples, exactly.</summary>
public sealed class WorkedExampleTests
{
    private const long Ms = 1_000_000;
    private const long Second = 1000 * Ms;

    private static int Admitted(IEnumerable<long> arrivalsNs)
    {
        // Amazon API Gateway's documented bucket: burst 5,000, rate 10,000 per second.
        var limiter = new TokenBucketLimiter(Rate.PerSecondOf(10_000), 5_000);
        var state = default(TokenBucketState);
        limiter.Initialize(ref state, 0);
        var admitted = 0;
        foreach (var t in arrivalsNs)
        {
            admitted += limiter.Acquire(ref state, t, 1).Outcome == LimitOutcome.Passed ? 1 : 0;
        }

        return admitted;
    }

    private static IEnumerable<long> At(long t, int count) => Enumerable.Repeat(t, count);

    /// <summary>Spreads <paramref name="count"/> arrivals evenly over [from, to).</summary>
    private static IEnumerable<long> Spread(long from, long to, int count) =>
        Enumerable.Range(0, count).Select(i => from + ((to - from) * i / count));

    [Fact]
    public void ApiGateway1_TenPerMillisecondForOneSecond_AllTenThousandAdmitted()
    {
        Assert.Equal(10_000, Admitted(Enumerable.Range(0, 1000).SelectMany(ms => At(ms * Ms, 10))));
    }

    [Fact]
    public void ApiGateway2_TenThousandAtOnce_FiveThousandAdmitted()
    {
        Assert.Equal(5_000, Admitted(At(0, 10_000)));
    }

    [Fact]
    public void ApiGateway3_FiveThousandThenFiveThousandSpreadOverTheRest_AllAdmitted()
    {
        Assert.Equal(10_000, Admitted(At(0, 5_000).Concat(Spread(1 * Ms, 1000 * Ms, 5_000))));
    }

    [Fact]
    public void ApiGateway4_FiveThousandThenFiveThousandAt100Ms_SixThousandAdmitted()
    {
        // 1,000 tokens refill in 100 ms; the other 4,000 of the second burst are throttled.
        Assert.Equal(6_000, Admitted(At(0, 5_000).Concat(At(100 * Ms, 5_000))));
    }

    [Fact]
    public void ApiGateway5_FiveThousandThousandAt100MsThenFourThousandSpread_AllAdmitted()
    {
        Assert.Equal(10_000, Admitted(At(0, 5_000).Concat(At(100 * Ms, 1_000)).Concat(Spread(101 * Ms, 1000 * Ms, 4_000))));
    }

    [Fact]
    public void SlidingWindowCounter_BookExample_ThirtyPercentIntoTheMinutePasses()
    {
        // Limit 7 a minute; 5 accepted in the previous minute, 3 in the current one.
        var limiter = new SlidingWindowLimiter(7, TimeSpan.FromMinutes(1));
        var state = default(SlidingWindowState);
        var minute = 60 * Second;
        var start = 1_700_000_040 * Second; // a whole minute of Unix time
        limiter.Initialize(ref state, start);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(LimitOutcome.Passed, limiter.Acquire(ref state, start + (i * Second), 1).Outcome);
        }

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(LimitOutcome.Passed, limiter.Acquire(ref state, start + minute + (i * Second), 1).Outcome);
        }

        // 30 % into the current minute: 3 + 5 × 0.7 = 6.5 < 7, so it passes and is counted.
        var at = start + minute + (18 * Second);
        Assert.Equal(LimitOutcome.Passed, limiter.Acquire(ref state, at, 1).Outcome);

        // Now 4 + 3.5 = 7.5, not below 7: the next one at the same moment is limited.
        Assert.Equal(LimitOutcome.Limited, limiter.Acquire(ref state, at, 1).Outcome);
    }

    [Fact]
    public void FixedWindow_LimitBeforeAndAfterABoundary_AllPassTwiceTheLimitInOneWindowLength()
    {
        var limiter = new FixedWindowLimiter(5, TimeSpan.FromSeconds(1));
        var state = default(FixedWindowState);
        limiter.Initialize(ref state, 0);
        var passed = 0;
        foreach (var t in At(900 * Ms, 5).Concat(At(1100 * Ms, 5)))
        {
            passed += limiter.Acquire(ref state, t, 1).IsAccepted ? 1 : 0;
        }

        // 10 within 200 ms: the known weakness of aligned windows.
        Assert.Equal(10, passed);
    }

    [Fact]
    public void SlidingLog_SameArrivalsAcrossTheBoundary_OnlyTheLimitPasses()
    {
        var limiter = new SlidingLogLimiter(5, TimeSpan.FromSeconds(1), maxKeys: 1);
        var state = default(SlidingLogState);
        limiter.Initialize(ref state, 0);
        var decisions = At(900 * Ms, 5).Concat(At(1100 * Ms, 5)).Select(t => limiter.Acquire(ref state, t, 1)).ToList();

        Assert.Equal(5, decisions.Count(d => d.IsAccepted));

        // The five after the boundary wait until the first five leave the window at 1.9 s.
        Assert.All(decisions.Skip(5), d => Assert.Equal(new LimitDecision(LimitOutcome.Limited, 800 * Ms), d));
    }

    [Fact]
    public void LeakyQueue_TenAtOnceRateOneQueueFive_OnePassesFiveWaitOneToFiveSecondsFourDropped()
    {
        var limiter = new LeakyQueueLimiter(Rate.PerSecondOf(1), 5);
        var state = default(LeakyQueueState);
        limiter.Initialize(ref state, 0);
        var decisions = At(0, 10).Select(t => limiter.Acquire(ref state, t, 1)).ToList();

        Assert.Equal(
            [
                LimitDecision.Pass,
                new(LimitOutcome.Delayed, 1 * Second),
                new(LimitOutcome.Delayed, 2 * Second),
                new(LimitOutcome.Delayed, 3 * Second),
                new(LimitOutcome.Delayed, 4 * Second),
                new(LimitOutcome.Delayed, 5 * Second),
                new(LimitOutcome.Limited, 1 * Second),
                new(LimitOutcome.Limited, 1 * Second),
                new(LimitOutcome.Limited, 1 * Second),
                new(LimitOutcome.Limited, 1 * Second),
            ],
            decisions);
    }

    [Fact]
    public void LeakyMeter_NginxThirtyPerMinute_PassRejectPassAt0And1999And2000Ms()
    {
        // nginx `rate=30r/m burst=0` admits one at a time; its burst counts the excess over the first
        // arrival, so nginx burst=0 is our burst=1 (DOMAIN.md: pass if level + c <= burst).
        var limiter = new LeakyMeterLimiter(new Rate(30, 60 * Second), 1);
        var state = default(LeakyMeterState);
        limiter.Initialize(ref state, 0);
        Assert.Equal(LimitOutcome.Passed, limiter.Acquire(ref state, 0, 1).Outcome);
        Assert.Equal(LimitOutcome.Limited, limiter.Acquire(ref state, 1999 * Ms, 1).Outcome);
        Assert.Equal(LimitOutcome.Passed, limiter.Acquire(ref state, 2000 * Ms, 1).Outcome);
    }

    [Fact]
    public void LeakyMeter_NginxNodelayBurstFive_SixPassMeansBurstSixHere()
    {
        // nginx `rate=1r/s burst=5 nodelay`: 6 of 10 simultaneous requests pass; the same meter here has burst 6.
        var limiter = new LeakyMeterLimiter(Rate.PerSecondOf(1), 6);
        var state = default(LeakyMeterState);
        limiter.Initialize(ref state, 0);
        Assert.Equal(6, At(0, 10).Count(t => limiter.Acquire(ref state, t, 1).IsAccepted));
    }
}
