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
    public long Percentile(double p) => Percentile(Recent(), p);

    /// <summary>A copy of the last N, sorted.</summary>
    public long[] Recent()
    {
        var sorted = _values[..(int)Math.Min(_count, _values.Length)];
        Array.Sort(sorted);
        return sorted;
    }

    /// <summary>The <paramref name="p"/> quantile (0…1) of <paramref name="sorted"/>, 0 when it is empty.</summary>
    public static long Percentile(long[] sorted, double p)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        var n = sorted.Length;
        return n == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p * n) - 1, 0, n - 1)];
    }
}
