using System.Runtime.CompilerServices;

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
    /// wall clock less how long ago it was, for comparing a packet's time with the kernel's. Compiled optimized on its
    /// first call: a block's detection time goes through it on the capture thread, a thousand times in the first attack.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long ToUnixNs(TimeProvider time, long monotonicNs)
    {
        var (nowNs, wallNs) = Pair(time);
        return wallNs - (nowNs - monotonicNs);
    }

    /// <summary>
    /// Now on both clocks, as one instant: the wall clock read between two monotonic readings. A thread preempted
    /// between two readings would pair instants the preemption apart, and every time derived from the pair (a batch's
    /// packet stamps, the wall-clock end of a hold) would be off by as much; so the pair is read again, up to three
    /// times, until the two monotonic readings are within 50 µs, and the closest is kept.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static (long MonotonicNs, long WallNs) Pair(TimeProvider time)
    {
        var (monotonicNs, wallNs, _) = PairWithGap(time);
        return (monotonicNs, wallNs);
    }

    /// <summary>
    /// <see cref="Pair"/>, and the gap between the two monotonic readings it kept: the pair is off by at most half of it.
    /// </summary>
    public static (long MonotonicNs, long WallNs, long GapNs) PairWithGap(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        var bestGap = long.MaxValue;
        (long, long, long) best = default;
        for (var attempt = 0; attempt < 3 && bestGap > 50_000; attempt++)
        {
            var before = NowNs(time);
            var wall = (time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;
            var after = NowNs(time);
            if (after - before < bestGap)
            {
                bestGap = after - before;
                best = (before + (bestGap / 2), wall, bestGap);
            }
        }

        return best;
    }

    /// <summary><paramref name="timestamp"/> ticks of <paramref name="frequency"/> per second, in nanoseconds.</summary>
    internal static long ToNs(long timestamp, long frequency) =>
        frequency == 1_000_000_000 ? timestamp : (long)((Int128)timestamp * 1_000_000_000 / frequency);
}
