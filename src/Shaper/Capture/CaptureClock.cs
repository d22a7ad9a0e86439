namespace Shaper.Capture;

/// <summary>
/// Stamps captured packets with monotonic time. libpcap's timestamps are the kernel's wall-clock arrival times, and
/// a limiter fed wall-clock time sees a step of the clock as time going backwards (a polite source then looks like
/// a flood) or jumping ahead. Once per batch the capture thread reads the monotonic and the wall clock together
/// (<see cref="Begin"/>); a packet's monotonic time is its wall-clock arrival less the offset between the clocks.
/// The offset is held steady: each batch's reading of it is off by up to the gap between the two clock reads (tens of
/// microseconds), and a stamp that moved by that from one batch to the next would move a packet across a limiter's
/// boundary (a sliding log's slot frees exactly a window after the packet that took it, which a regular sender's
/// next packet meets to the microsecond), so the engine would decide otherwise than a replay of the same arrivals.
/// Each reading moves the offset by a 256th of its difference, which follows a slewing clock (at most 500 ppm); a
/// reading more than <see cref="StepNs"/> away is a step of the wall clock and is taken at once. Stamps are kept
/// within [batch read − <see cref="MaxAgeNs"/>, batch read] so a step between the packet's arrival and the read moves
/// it by at most that, and never earlier than the packet before it. A reading whose two monotonic reads lie more than
/// <see cref="MaxGapNs"/> apart (the thread was preempted between them, as on a busy host) can be off by half that gap,
/// milliseconds, and is not used for the offset: taken as a step it would move every stamp of the batch by as much, across
/// the moments the kernel took a key into a set or let it go. One writer: the capture thread that owns it.
/// </summary>
public struct CaptureClock
{
    /// <summary>The oldest a packet is taken to be when its batch is read (a larger age means the wall clock stepped).</summary>
    public const long MaxAgeNs = 1_000_000_000;

    /// <summary>A reading of the clocks' offset this far from the held one is a step of the wall clock, taken at once.</summary>
    public const long StepNs = 1_000_000;

    /// <summary>The widest gap between a reading's two monotonic reads that still moves the offset.</summary>
    public const long MaxGapNs = 100_000;

    private long _batchMonotonicNs;
    private long _offsetNs;
    private bool _hasOffset;
    private long _lastNs;

    /// <summary>
    /// Starts a batch read at monotonic <paramref name="monotonicNs"/> and wall-clock <paramref name="wallNs"/> (Unix ns),
    /// a reading whose monotonic reads were <paramref name="gapNs"/> apart.
    /// </summary>
    public void Begin(long monotonicNs, long wallNs, long gapNs = 0)
    {
        _batchMonotonicNs = monotonicNs;
        if (_hasOffset && gapNs > MaxGapNs)
        {
            return;
        }

        var reading = wallNs - monotonicNs;
        if (!_hasOffset || Math.Abs(reading - _offsetNs) > StepNs)
        {
            _offsetNs = reading;
            _hasOffset = true;
        }
        else
        {
            _offsetNs += (reading - _offsetNs) / 256;
        }
    }

    /// <summary>The monotonic time of a packet of the current batch that the kernel stamped <paramref name="packetWallNs"/>.</summary>
    public long Stamp(long packetWallNs)
    {
        var stamp = Math.Clamp(packetWallNs - _offsetNs, _batchMonotonicNs - MaxAgeNs, _batchMonotonicNs);
        stamp = Math.Max(stamp, _lastNs);
        _lastNs = stamp;
        return stamp;
    }
}
