namespace Shaper.Queue;

/// <summary>
/// The last N hold times (nanoseconds) a queue gave, for its delay percentiles: a ring written by the queue's worker
/// and read only through it, so it needs no lock. Fixed memory.
/// </summary>
internal sealed class DelaySamples(int capacity)
{
    private readonly long[] _values = new long[capacity];
    private long _count;

    /// <summary>Hold times recorded since start.</summary>
    public long Count => _count;

    /// <summary>The longest hold time recorded since start.</summary>
    public long MaxNs { get; private set; }

    public void Add(long ns)
    {
        _values[_count++ % _values.Length] = ns;
        if (ns > MaxNs)
        {
            MaxNs = ns;
        }
    }

    /// <summary>The <paramref name="p"/> quantile (0…1) of the last N, 0 when none was recorded.</summary>
    public long Percentile(double p)
    {
        var n = (int)Math.Min(_count, _values.Length);
        if (n == 0)
        {
            return 0;
        }

        var sorted = _values[..n];
        Array.Sort(sorted);
        return sorted[Math.Clamp((int)Math.Ceiling(p * n) - 1, 0, n - 1)];
    }
}
