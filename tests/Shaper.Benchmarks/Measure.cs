using System.Diagnostics;

namespace Shaper.Benchmarks;

/// <summary>
/// Runs a loop body in batches for a fixed wall time and reports operations per second. Ours and the
/// baseline are measured alternately in the same process, several times each, and the medians compared,
/// so machine noise hits both sides alike.
/// </summary>
internal static class Measure
{
    /// <summary>Runs <paramref name="batch"/> (which performs <paramref name="batchSize"/> operations) for <paramref name="seconds"/>.</summary>
    public static double OpsPerSecond(Func<int, long> batch, int batchSize, double seconds)
    {
        var sw = Stopwatch.StartNew();
        long ops = 0;
        long sink = 0;
        var limit = TimeSpan.FromSeconds(seconds);
        while (sw.Elapsed < limit)
        {
            sink += batch(batchSize);
            ops += batchSize;
        }

        GC.KeepAlive(sink);
        return ops / sw.Elapsed.TotalSeconds;
    }

    public static double Median(List<double> values)
    {
        values.Sort();
        var n = values.Count;
        return n % 2 == 1 ? values[n / 2] : (values[(n / 2) - 1] + values[n / 2]) / 2;
    }
}
