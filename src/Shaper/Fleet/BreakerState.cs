namespace Shaper.Fleet;

/// <summary>
/// The states of a <see cref="CircuitBreaker"/>, with Resilience4j's names and numbers (its
/// <c>CircuitBreaker.State</c>; METRICS_ONLY is not offered).
/// </summary>
public enum BreakerState
{
    /// <summary>Calls go through; their outcomes fill the sliding window, which may trip the breaker.</summary>
    Closed = 0,

    /// <summary>Calls are refused until the wait in open has passed; then the next call finds it half-open.</summary>
    Open = 1,

    /// <summary>A fixed number of trial calls go through; their outcomes close or reopen the breaker.</summary>
    HalfOpen = 2,

    /// <summary>Set by hand: every call goes through, nothing is recorded, nothing trips.</summary>
    Disabled = 3,

    /// <summary>Set by hand: every call is refused, and nothing moves it but another manual transition.</summary>
    ForcedOpen = 4,
}
