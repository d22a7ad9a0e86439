using Microsoft.Extensions.Time.Testing;
using Shaper.Fleet;

namespace Shaper.Tests.Fleet;

public sealed class CircuitBreakerTests
{
    private readonly FakeTimeProvider _time = new();

    private static readonly BreakerOptions Count = new()
    {
        WindowType = BreakerWindowType.CountBased,
        WindowSize = 10,
        MinimumCalls = 5,
        FailureRateThreshold = 50,
        SlowCallRateThreshold = 50,
        SlowCallDuration = TimeSpan.FromMilliseconds(100),
        WaitInOpen = TimeSpan.FromSeconds(2),
        PermittedCallsInHalfOpen = 3,
    };

    [Fact]
    public void Closed_FailuresBelowMinimumCalls_StaysClosed()
    {
        var breaker = new CircuitBreaker(Count, _time);
        for (var i = 0; i < 4; i++)
        {
            Fail(breaker);
        }

        // 4 of 4 failed, but the window must hold 5 calls before a rate counts.
        Assert.Equal(BreakerState.Closed, breaker.State);
        Fail(breaker);
        Assert.Equal(BreakerState.Open, breaker.State);
    }

    [Fact]
    public void Closed_FailureRateAtThreshold_Opens()
    {
        var breaker = new CircuitBreaker(Count, _time);
        Succeed(breaker);
        Succeed(breaker);
        Succeed(breaker);
        Fail(breaker);
        Fail(breaker);

        // 2 of 5 = 40 %: below 50.
        Assert.Equal(BreakerState.Closed, breaker.State);
        Fail(breaker);

        // 3 of 6 = 50 %: at the threshold opens (Resilience4j: rate >= threshold).
        Assert.Equal(BreakerState.Open, breaker.State);
    }

    [Fact]
    public void Closed_CountWindow_ForgetsOutcomesOlderThanItsSize()
    {
        var breaker = new CircuitBreaker(Count, _time);
        Succeed(breaker);
        Succeed(breaker);
        Succeed(breaker);
        Fail(breaker);
        Fail(breaker);
        for (var i = 0; i < 10; i++)
        {
            Succeed(breaker);
        }

        // The two failures have left the 10-call ring: 4 more failures make 4 of 10 (40 %), not 6 of 19 kept forever.
        for (var i = 0; i < 4; i++)
        {
            Fail(breaker);
        }

        var snapshot = breaker.Snapshot();
        Assert.Equal(BreakerState.Closed, snapshot.State);
        Assert.Equal(10, snapshot.BufferedCalls);
        Assert.Equal(40, snapshot.FailureRate);
    }

    [Fact]
    public void Closed_SlowSuccessesAtThreshold_OpenOnSlowCallRate()
    {
        var breaker = new CircuitBreaker(Count with { FailureRateThreshold = 100 }, _time);
        for (var i = 0; i < 5; i++)
        {
            Assert.True(breaker.TryAcquire(out var permit));

            // Longer than the 100 ms slow-call duration, and successful: only the slow-call rate can open it.
            _time.Advance(TimeSpan.FromMilliseconds(i < 2 ? 50 : 150));
            breaker.OnSuccess(permit);
        }

        var snapshot = breaker.Snapshot();
        Assert.Equal(BreakerState.Open, snapshot.State);
        Assert.Equal(0, snapshot.Failed);
        Assert.Equal(3, snapshot.Slow);
    }

    [Theory]
    [InlineData(10)]    // the shortest sync: attempt timeout 20 ms
    [InlineData(100)]   // the default: attempt timeout 50 ms
    [InlineData(5_000)] // a long sync: attempt timeout capped at 1 s
    public void ForSync_DefaultSlowCall_CallCutOffByItsTimeoutIsSlow_HalfOfItIsNot(int syncMs)
    {
        var sync = TimeSpan.FromMilliseconds(syncMs);
        var timeout = StoreCallOptions.ForSync(sync).AttemptTimeout;
        var breaker = new CircuitBreaker(BreakerOptions.ForSync(sync) with { MinimumCalls = 100 }, _time);

        // A call that waited half its timeout for a busy CPU is not slow; one cut off by its timeout (a stalled store) is.
        Assert.True(breaker.TryAcquire(out var busy));
        _time.Advance(timeout / 2);
        breaker.OnSuccess(busy);
        Assert.Equal(0, breaker.Snapshot().Slow);
        Assert.True(breaker.TryAcquire(out var stalled));
        _time.Advance(timeout);
        breaker.OnFailure(stalled);
        Assert.Equal(1, breaker.Snapshot().Slow);
    }

    [Fact]
    public void ForSync_SlowCallFromFleetSection_IsTheBreakersSlowCallDuration()
    {
        var set = FleetAccuracyTests.Load("[fleet]\nredis = \"198.18.0.9:6379\"\nslow_call = \"80ms\"\n").Fleet!;
        var unset = FleetAccuracyTests.Load("[fleet]\nredis = \"198.18.0.9:6379\"\nsync = \"200ms\"\n").Fleet!;

        Assert.Equal(TimeSpan.FromMilliseconds(80), BreakerOptions.ForSync(set.Sync, set.SlowCall).SlowCallDuration);
        Assert.Null(unset.SlowCall);
        Assert.Equal(TimeSpan.FromMilliseconds(90), BreakerOptions.ForSync(unset.Sync, unset.SlowCall).SlowCallDuration); // 0.9 × 100 ms
    }

    [Fact]
    public void Closed_CallExactlyAtSlowDuration_IsNotSlow()
    {
        var breaker = new CircuitBreaker(Count with { MinimumCalls = 1, WindowSize = 1 }, _time);
        Assert.True(breaker.TryAcquire(out var permit));
        _time.Advance(TimeSpan.FromMilliseconds(100));
        breaker.OnSuccess(permit);

        // Resilience4j: slow iff the duration is longer than the threshold.
        Assert.Equal(BreakerState.Closed, breaker.State);
        Assert.Equal(0, breaker.Snapshot().Slow);
    }

    [Fact]
    public void Open_BeforeWait_RefusesAndCountsNotPermitted()
    {
        var breaker = OpenBreaker();
        _time.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.False(breaker.TryAcquire(out _));
        Assert.False(breaker.TryAcquire(out _));
        Assert.Equal(2, breaker.Snapshot().NotPermitted);
        Assert.Equal(BreakerState.Open, breaker.State);
    }

    [Fact]
    public void Open_AfterWait_FirstCallFindsItHalfOpenWithItsPermittedCalls()
    {
        var breaker = OpenBreaker();
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(BreakerState.Open, breaker.State); // lazy: nothing moves it until a call asks
        Assert.True(breaker.TryAcquire(out _));
        Assert.Equal(BreakerState.HalfOpen, breaker.State);
        Assert.True(breaker.TryAcquire(out _));
        Assert.True(breaker.TryAcquire(out _));

        // Three trial calls are out; a fourth is refused until they report.
        Assert.False(breaker.TryAcquire(out _));
    }

    [Fact]
    public void HalfOpen_AllTrialsSucceed_Closes()
    {
        var breaker = HalfOpenBreaker();
        Succeed(breaker);
        Succeed(breaker);
        Assert.Equal(BreakerState.HalfOpen, breaker.State); // decided only once all three are in
        Succeed(breaker);
        Assert.Equal(BreakerState.Closed, breaker.State);
        Assert.Equal(0, breaker.Snapshot().BufferedCalls);
    }

    [Fact]
    public void HalfOpen_TrialsFailAtThreshold_Reopens()
    {
        var breaker = HalfOpenBreaker();
        Succeed(breaker);
        Fail(breaker);
        Fail(breaker);

        // 2 of 3 failed, 67 % >= 50 %: open again, for another full wait.
        Assert.Equal(BreakerState.Open, breaker.State);
        _time.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.False(breaker.TryAcquire(out _));
    }

    [Fact]
    public void Outcome_FromEarlierState_IsIgnored()
    {
        var breaker = new CircuitBreaker(Count, _time);
        Assert.True(breaker.TryAcquire(out var stale));
        for (var i = 0; i < 5; i++)
        {
            Fail(breaker);
        }

        Assert.Equal(BreakerState.Open, breaker.State);
        breaker.Close();

        // Permitted before the breaker opened and closed again: it must not count in the new window.
        breaker.OnFailure(stale);
        Assert.Equal(0, breaker.Snapshot().BufferedCalls);
    }

    [Fact]
    public void Disabled_PermitsEverythingAndRecordsNothing()
    {
        var breaker = new CircuitBreaker(Count, _time);
        breaker.Disable();
        for (var i = 0; i < 20; i++)
        {
            Fail(breaker);
        }

        var snapshot = breaker.Snapshot();
        Assert.Equal(BreakerState.Disabled, snapshot.State);
        Assert.Equal(0, snapshot.Failed);
        Assert.Equal(0, snapshot.BufferedCalls);
    }

    [Fact]
    public void ForcedOpen_RefusesEvenAfterTheWait_UntilClosedByHand()
    {
        var breaker = new CircuitBreaker(Count, _time);
        var transitions = new List<(BreakerState, BreakerState)>();
        breaker.StateChanged += (from, to) => transitions.Add((from, to));
        breaker.ForceOpen();
        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.False(breaker.TryAcquire(out _));
        Assert.Equal(BreakerState.ForcedOpen, breaker.State);
        breaker.Close();
        Assert.True(breaker.TryAcquire(out _));
        Assert.Equal([(BreakerState.Closed, BreakerState.ForcedOpen), (BreakerState.ForcedOpen, BreakerState.Closed)], transitions);
    }

    [Fact]
    public void TimeWindow_CountsOnlyTheLastSeconds()
    {
        var options = Count with { WindowType = BreakerWindowType.TimeBased, WindowSize = 2, MinimumCalls = 4 };
        var breaker = new CircuitBreaker(options, _time);
        Fail(breaker);
        Fail(breaker);
        Fail(breaker);
        _time.Advance(TimeSpan.FromSeconds(3));

        // The three failures are older than the 2 s window: one more failure and a success are 1 of 2 calls.
        Fail(breaker);
        Succeed(breaker);
        Assert.Equal(2, breaker.Snapshot().BufferedCalls);
        Assert.Equal(BreakerState.Closed, breaker.State);

        // Within the window the rates count: 3 of 5 failed.
        Fail(breaker);
        Fail(breaker);
        Assert.Equal(BreakerState.Open, breaker.State);
    }

    [Fact]
    public void TimeWindow_MinimumCallsMayExceedAnyOneSecond()
    {
        var options = Count with { WindowType = BreakerWindowType.TimeBased, WindowSize = 10, MinimumCalls = 6 };
        var breaker = new CircuitBreaker(options, _time);
        for (var i = 0; i < 6; i++)
        {
            Fail(breaker);
            _time.Advance(TimeSpan.FromMilliseconds(900));
        }

        // Six failures spread over 5.4 s are all inside the 10 s window.
        Assert.Equal(BreakerState.Open, breaker.State);
    }

    private CircuitBreaker OpenBreaker()
    {
        var breaker = new CircuitBreaker(Count, _time);
        for (var i = 0; i < 5; i++)
        {
            Fail(breaker);
        }

        Assert.Equal(BreakerState.Open, breaker.State);
        return breaker;
    }

    private CircuitBreaker HalfOpenBreaker()
    {
        var breaker = OpenBreaker();
        _time.Advance(TimeSpan.FromSeconds(2));
        var transitions = 0;
        breaker.StateChanged += (_, _) => transitions++;
        return breaker;
    }

    private static void Succeed(CircuitBreaker breaker)
    {
        Assert.True(breaker.TryAcquire(out var permit));
        breaker.OnSuccess(permit);
    }

    private static void Fail(CircuitBreaker breaker)
    {
        Assert.True(breaker.TryAcquire(out var permit));
        breaker.OnFailure(permit);
    }
}
