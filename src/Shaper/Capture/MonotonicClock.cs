namespace Shaper.Capture;

/// <summary>
/// The live daemon's packet clock: <see cref="TimeProvider.GetTimestamp"/> (CLOCK_MONOTONIC on Linux) in
/// nanoseconds, which a step of the wall clock (an operator's <c>date -s</c>, an NTP step) does not move. Live
/// limiters and reports run on it; only log lines and measurements against the kernel speak wall-clock time.
/// </summary>
public static class MonotonicClock
{
    /// <summary>Now, in monotonic nanoseconds.</summary>
    public static long NowNs(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        return ToNs(time.GetTimestamp(), time.TimestampFrequency);
    }

    /// <summary>
    /// The Unix time (nanoseconds, wall clock) of the monotonic instant <paramref name="monotonicNs"/>: now on the
    /// wall clock less how long ago it was, for comparing a packet's time with the kernel's.
    /// </summary>
    public static long ToUnixNs(TimeProvider time, long monotonicNs)
    {
        ArgumentNullException.ThrowIfNull(time);
        var wall = (time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;
        return wall - (NowNs(time) - monotonicNs);
    }

    /// <summary><paramref name="timestamp"/> ticks of <paramref name="frequency"/> per second, in nanoseconds.</summary>
    internal static long ToNs(long timestamp, long frequency) =>
        frequency == 1_000_000_000 ? timestamp : (long)((Int128)timestamp * 1_000_000_000 / frequency);
}
