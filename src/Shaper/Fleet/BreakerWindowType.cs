namespace Shaper.Fleet;

/// <summary>How a <see cref="CircuitBreaker"/>'s sliding window counts: the last N calls, or the calls of the last N seconds.</summary>
public enum BreakerWindowType
{
    /// <summary>The outcomes of the last <see cref="BreakerOptions.WindowSize"/> calls.</summary>
    CountBased,

    /// <summary>The outcomes of the calls in the last <see cref="BreakerOptions.WindowSize"/> seconds, in one-second buckets.</summary>
    TimeBased,
}
