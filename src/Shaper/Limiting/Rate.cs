namespace Shaper.Limiting;

/// <summary>
/// A rate as an exact fraction: <see cref="Amount"/> units (packets or bytes) every
/// <see cref="PeriodNs"/> nanoseconds. Kept as integers so that rates such as 10/minute or
/// 1 mbytes/s stay exact instead of becoming a rounded nanosecond interval.
/// </summary>
public readonly record struct Rate
{
    /// <summary>Creates a rate of <paramref name="amount"/> units per <paramref name="periodNs"/> nanoseconds.</summary>
    public Rate(long amount, long periodNs)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(amount);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(periodNs);
        Amount = amount;
        PeriodNs = periodNs;
    }

    /// <summary>Units per period.</summary>
    public long Amount { get; }

    /// <summary>The period in nanoseconds.</summary>
    public long PeriodNs { get; }

    /// <summary>Units per second, for display and metrics.</summary>
    public double PerSecond => Amount * 1e9 / PeriodNs;

    /// <summary>A rate of <paramref name="amount"/> per second.</summary>
    public static Rate PerSecondOf(long amount) => new(amount, 1_000_000_000L);

    /// <summary>
    /// The rate reduced to lowest terms as <c>perNs / unitsPerToken</c>: scaled arithmetic holds one
    /// token as <c>unitsPerToken</c> scaled units, and <c>perNs</c> scaled units accrue every nanosecond.
    /// </summary>
    internal (long PerNs, long UnitsPerToken) Reduced()
    {
        var g = Gcd(Amount, PeriodNs);
        return (Amount / g, PeriodNs / g);
    }

    private static long Gcd(long a, long b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }

        return a;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Amount}/{PeriodNs}ns";
}
