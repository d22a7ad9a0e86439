namespace Shaper.Limiting;

/// <summary>What a limiter did with one arrival.</summary>
public enum LimitOutcome : byte
{
    /// <summary>Went through at once.</summary>
    Passed = 0,

    /// <summary>Accepted, but leaves later (leaky bucket as a queue).</summary>
    Delayed = 1,

    /// <summary>Over the limit: dropped, rejected, or (soft mode) would have been.</summary>
    Limited = 2,
}
