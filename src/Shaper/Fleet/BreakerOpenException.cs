namespace Shaper.Fleet;

/// <summary>The circuit breaker refused the call: it is open (or forced open, or half-open with its trial calls taken).</summary>
public sealed class BreakerOpenException(BreakerState state)
    : Exception($"circuit breaker {state.ToString().ToUpperInvariant()}: the store call was not made")
{
    /// <summary>The breaker's state when it refused.</summary>
    public BreakerState State { get; } = state;
}
