namespace Shaper.Metrics;

/// <summary>The last N latencies (milliseconds) with their percentiles; thread-safe, fixed memory.</summary>
public sealed class LatencyWindow(int capacity)
{
    private readonly double[] _values = new double[capacity];
    private readonly Lock _lock = new(); // written by the block thread, read by status and metrics
    private long _count;

    /// <summary>Latencies recorded since start.</summary>
    public long Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    public void Add(double milliseconds)
    {
        lock (_lock)
        {
            _values[_count++ % _values.Length] = milliseconds;
        }
    }

    /// <summary>The <paramref name="p"/> quantile (0…1) of the window, NaN when empty.</summary>
    public double Percentile(double p)
    {
        double[] sorted;
        lock (_lock)
        {
            sorted = _values[..(int)Math.Min(_count, _values.Length)];
        }

        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        Array.Sort(sorted);
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
    }
}
