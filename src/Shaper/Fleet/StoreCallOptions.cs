namespace Shaper.Fleet;

/// <summary>
/// Timeouts and retries of one store call (botocore's standard mode, scaled to a sync interval): at most
/// <see cref="MaxAttempts"/> attempts counting the first, each cut off after <see cref="AttemptTimeout"/>, with
/// a full-jitter delay <c>rand(0, min(cap, base × 2^retry))</c> before each retry. botocore's base of 1 s and cap
/// of 20 s are for calls made once; a sync repeats every interval, so here the base is a tenth of the interval and
/// the cap the interval itself, and a whole call with its retries stays within about two intervals.
/// </summary>
public sealed record StoreCallOptions
{
    /// <summary>Attempts per call, the first included (botocore standard: 3).</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>Each attempt's time limit.</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The backoff's base.</summary>
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>The backoff's cap.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The options for a sync every <paramref name="sync"/>: attempt timeout half the interval (20 ms to 1 s), base a tenth, cap one interval.</summary>
    public static StoreCallOptions ForSync(TimeSpan sync) => new()
    {
        AttemptTimeout = TimeSpan.FromTicks(Math.Clamp(sync.Ticks / 2, TimeSpan.FromMilliseconds(20).Ticks, TimeSpan.FromSeconds(1).Ticks)),
        BaseDelay = sync / 10,
        MaxDelay = sync,
    };
}
