namespace Shaper.Limiting;

/// <summary>
/// A limiter's answer for one arrival. <see cref="DelayNs"/> is how long a
/// <see cref="LimitOutcome.Delayed"/> arrival waits before it leaves; for a
/// <see cref="LimitOutcome.Limited"/> arrival it is the retry-after, the time until an
/// arrival of the same cost would pass (<see cref="Never"/> when it never can).
/// </summary>
public readonly record struct LimitDecision(LimitOutcome Outcome, long DelayNs)
{
    /// <summary>Retry-after of an arrival that can never pass (its cost exceeds the limit).</summary>
    public const long Never = long.MaxValue;

    /// <summary>A decision that lets the arrival through at once.</summary>
    public static LimitDecision Pass => new(LimitOutcome.Passed, 0);

    /// <summary>True when the arrival went through, now or later.</summary>
    public bool IsAccepted => Outcome != LimitOutcome.Limited;
}
