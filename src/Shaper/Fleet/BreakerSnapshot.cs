namespace Shaper.Fleet;

/// <summary>
/// What a <see cref="CircuitBreaker"/> shows at one moment: its state, its window's rates, and its counts since
/// start by outcome (success, failure, slow, not permitted) and of transitions.
/// </summary>
public readonly record struct BreakerSnapshot(
    BreakerState State,
    int BufferedCalls,
    double FailureRate,
    double SlowCallRate,
    long Successful,
    long Failed,
    long Slow,
    long NotPermitted,
    long Transitions);
