namespace Shaper.Capture;

/// <summary>
/// Stamps captured packets with monotonic time. libpcap's timestamps are the kernel's wall-clock arrival times, and
/// a limiter fed wall-clock time sees a step of the clock as time going backwards (a polite source then looks like
/// a flood) or jumping ahead. Once per batch the capture thread reads the monotonic and the wall clock together
/// (<see cref="Begin"/>); a packet's monotonic time is then that instant less the packet's age on the wall clock,
/// the age kept within [0, <see cref="MaxAgeNs"/>] so a step between the packet's arrival and the read moves it by
/// at most that, and never earlier than the packet before it. Spacing within a batch is the kernel's own.
/// One writer: the capture thread that owns it.
/// </summary>
public struct CaptureClock
{
    /// <summary>The oldest a packet is taken to be when its batch is read (a larger age means the wall clock stepped).</summary>
    public const long MaxAgeNs = 1_000_000_000;

    private long _batchMonotonicNs;
    private long _batchWallNs;
    private long _lastNs;

    /// <summary>Starts a batch read at monotonic <paramref name="monotonicNs"/> and wall-clock <paramref name="wallNs"/> (Unix ns).</summary>
    public void Begin(long monotonicNs, long wallNs)
    {
        _batchMonotonicNs = monotonicNs;
        _batchWallNs = wallNs;
    }

    /// <summary>The monotonic time of a packet of the current batch that the kernel stamped <paramref name="packetWallNs"/>.</summary>
    public long Stamp(long packetWallNs)
    {
        var age = Math.Clamp(_batchWallNs - packetWallNs, 0, MaxAgeNs);
        var stamp = Math.Max(_batchMonotonicNs - age, _lastNs);
        _lastNs = stamp;
        return stamp;
    }
}
