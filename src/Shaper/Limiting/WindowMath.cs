namespace Shaper.Limiting;

/// <summary>Window arithmetic shared by the fixed window and the sliding window counter.</summary>
internal static class WindowMath
{
    /// <summary>The index of the window holding <paramref name="nowNs"/>: floor division, also for negative times.</summary>
    public static long Index(long nowNs, long windowNs)
    {
        var q = Math.DivRem(nowNs, windowNs, out var r);
        return r < 0 ? q - 1 : q;
    }

    /// <summary>Where window <paramref name="index"/> starts, saturating instead of overflowing.</summary>
    public static long Start(long index, long windowNs)
    {
        var start = (Int128)index * windowNs;
        return start > long.MaxValue ? long.MaxValue : start < long.MinValue ? long.MinValue : (long)start;
    }

    /// <summary>Nanoseconds from <paramref name="nowNs"/> to the start of the window after <paramref name="index"/>.</summary>
    public static long UntilNext(long index, long windowNs, long nowNs)
    {
        var until = ((Int128)index + 1) * windowNs - nowNs;
        return until > long.MaxValue ? long.MaxValue : until < 0 ? 0 : (long)until;
    }
}
