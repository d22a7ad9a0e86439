namespace Shaper.Fleet;

/// <summary>A call a <see cref="CircuitBreaker"/> let through: the state generation it was permitted in and when it started (a <see cref="TimeProvider"/> timestamp).</summary>
public readonly record struct BreakerPermit(int Generation, long StartedAt);
