namespace Shaper.Limiting;

/// <summary>Overflow-safe helpers shared by the limiters' scaled integer arithmetic.</summary>
internal static class ScaledMath
{
    /// <summary>Largest scaled quantity a limiter may hold; leaves headroom so that one addition never overflows.</summary>
    public const long MaxScaled = long.MaxValue / 4;

    /// <summary>
    /// Nanoseconds from <paramref name="lastNs"/> to <paramref name="nowNs"/>: 0 when time stood still or went
    /// backwards, and exact (saturating at <see cref="long.MaxValue"/>) even across the whole clock range.
    /// </summary>
    public static long Elapsed(long nowNs, long lastNs) =>
        nowNs <= lastNs ? 0 : (long)Math.Min(unchecked((ulong)nowNs - (ulong)lastNs), long.MaxValue);

    /// <summary>Ceiling division of non-negative values.</summary>
    public static long CeilDiv(long value, long divisor) => value <= 0 ? 0 : ((value - 1) / divisor) + 1;

    /// <summary>
    /// Validates that <paramref name="count"/> tokens of <paramref name="unitsPerToken"/> scaled units
    /// fit under <see cref="MaxScaled"/>, naming <paramref name="paramName"/> in the error.
    /// </summary>
    public static long Scale(long count, long unitsPerToken, string paramName)
    {
        if (count > MaxScaled / unitsPerToken)
        {
            throw new ArgumentOutOfRangeException(
                paramName,
                count,
                $"{paramName} is too large for this rate: {paramName} × period must stay below {MaxScaled} ns.");
        }

        return count * unitsPerToken;
    }

    /// <summary>
    /// <paramref name="value"/> + <paramref name="add"/> (both non-negative), at most twice <paramref name="limit"/>,
    /// without overflow: a count that <c>Force</c> takes past its limit.
    /// </summary>
    public static long AddUpToTwice(long value, long add, long limit)
    {
        var cap = limit > long.MaxValue / 2 ? long.MaxValue : 2 * limit;
        return value > cap - add ? cap : value + add;
    }
}
