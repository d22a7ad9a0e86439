using Shaper.Capture;

namespace Shaper.Tests.Capture;

/// <summary>The monotonic and wall clocks read as one instant, though the reading thread is preempted between two reads.</summary>
public sealed class MonotonicClockTests
{
    [Fact]
    public void Pair_PreemptedAfterTheFirstWallRead_KeepsTheTightReading()
    {
        var clock = new PreemptedClock(TimeSpan.FromMilliseconds(30));

        var (monotonicNs, wallNs) = MonotonicClock.Pair(clock);

        Assert.InRange(wallNs - clock.WallNs(monotonicNs), -1_000, 1_000);
        Assert.Equal(4, clock.MonotonicReads); // the first pair 30 ms apart, read again
    }

    [Fact]
    public void ToUnixNs_PreemptedBetweenReadings_NotEarlierByThePreemption()
    {
        var clock = new PreemptedClock(TimeSpan.FromMilliseconds(30));
        var instant = clock.MonotonicNs;

        // Read once (the wall clock, then the monotonic clock 30 ms later), the instant would be 30 ms early.
        Assert.InRange(MonotonicClock.ToUnixNs(clock, instant) - clock.WallNs(instant), -1_000, 1_000);
    }

    /// <summary>
    /// Both clocks at a fixed offset, the monotonic one moving 1 µs per read; right after the first wall-clock read
    /// the thread is away for <c>away</c>, which passes on both clocks.
    /// </summary>
    private sealed class PreemptedClock(TimeSpan away) : TimeProvider
    {
        private const long OffsetNs = 1_700_000_000_000_000_000;
        private long _monotonicNs = 5_000_000_000;
        private bool _preempted;

        public int MonotonicReads { get; private set; }

        public long MonotonicNs => _monotonicNs;

        public override long TimestampFrequency => 1_000_000_000;

        public long WallNs(long monotonicNs) => monotonicNs + OffsetNs;

        public override long GetTimestamp()
        {
            MonotonicReads++;
            _monotonicNs += 1_000;
            return _monotonicNs;
        }

        public override DateTimeOffset GetUtcNow()
        {
            var now = DateTimeOffset.UnixEpoch.AddTicks(WallNs(_monotonicNs) / 100);
            if (!_preempted)
            {
                _preempted = true;
                _monotonicNs += (long)away.TotalNanoseconds;
            }

            return now;
        }
    }
}
