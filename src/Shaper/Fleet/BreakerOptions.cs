namespace Shaper.Fleet;

/// <summary>
/// A <see cref="CircuitBreaker"/>'s settings, named after Resilience4j's <c>CircuitBreakerConfig</c>. The defaults
/// here are the fleet store's (<see cref="ForSync"/> derives them from the sync interval), not Resilience4j's,
/// whose 100-call window and 60 s wait suit a service taking many calls a second, not one batch per sync.
/// </summary>
public sealed record BreakerOptions
{
    /// <summary>Count- or time-based sliding window.</summary>
    public BreakerWindowType WindowType { get; init; } = BreakerWindowType.CountBased;

    /// <summary>Calls (count-based) or seconds (time-based) in the sliding window.</summary>
    public int WindowSize { get; init; } = 10;

    /// <summary>Calls the window must hold before a rate is computed; capped at the window size when count-based.</summary>
    public int MinimumCalls { get; init; } = 5;

    /// <summary>Percentage of failed calls (0 to 100) at or above which the breaker opens.</summary>
    public double FailureRateThreshold { get; init; } = 50;

    /// <summary>Percentage of slow calls (0 to 100) at or above which the breaker opens.</summary>
    public double SlowCallRateThreshold { get; init; } = 50;

    /// <summary>A call that takes longer than this is slow, whether it succeeded or failed.</summary>
    public TimeSpan SlowCallDuration { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>How long the breaker stays open before it lets trial calls through.</summary>
    public TimeSpan WaitInOpen { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Trial calls let through while half-open; all of them decide whether it closes or reopens.</summary>
    public int PermittedCallsInHalfOpen { get; init; } = 3;

    /// <summary>
    /// The fleet store's breaker for a sync every <paramref name="sync"/>: a count-based window of the last 10
    /// calls, opened once 5 are in by half of them failing or 30 % being slow (longer than
    /// <paramref name="slowCall"/>, by default <see cref="DefaultSlowCall"/>), a wait of 2 s in open (at least 10 sync
    /// intervals), 3 trial calls.
    /// </summary>
    public static BreakerOptions ForSync(TimeSpan sync, TimeSpan? slowCall = null) => new()
    {
        // A stalled store shows first as slow calls (each cut off at its timeout); once the client declares the link
        // dead its calls fail at once. At 30 % the slow calls open the breaker before the failures reach half.
        SlowCallRateThreshold = 30,
        SlowCallDuration = slowCall ?? DefaultSlowCall(sync),
        WaitInOpen = TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(2).Ticks, sync.Ticks * 10)),
    };

    /// <summary>
    /// The slow-call duration for a sync every <paramref name="sync"/>: nine tenths of an attempt's timeout (half the
    /// interval, 20 ms to 1 s; so 45 ms at 100 ms). A call cut off by its timeout is slow, so a stalled store opens the
    /// breaker by its slow-call rate; a call that merely waited for a busy CPU is not (a quarter of the interval,
    /// 25 ms, opened it on a loaded 2-core machine while Redis answered every call).
    /// </summary>
    public static TimeSpan DefaultSlowCall(TimeSpan sync) => StoreCallOptions.ForSync(sync).AttemptTimeout * 0.9;

    /// <summary>Throws when a setting is out of range, naming it.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(WindowSize, 1, nameof(WindowSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(MinimumCalls, 1, nameof(MinimumCalls));
        ArgumentOutOfRangeException.ThrowIfLessThan(PermittedCallsInHalfOpen, 1, nameof(PermittedCallsInHalfOpen));
        if (FailureRateThreshold is <= 0 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(FailureRateThreshold), FailureRateThreshold, "a percentage above 0 and at most 100");
        }

        if (SlowCallRateThreshold is <= 0 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(SlowCallRateThreshold), SlowCallRateThreshold, "a percentage above 0 and at most 100");
        }

        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(SlowCallDuration, TimeSpan.Zero, nameof(SlowCallDuration));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(WaitInOpen, TimeSpan.Zero, nameof(WaitInOpen));
    }
}
