namespace Shaper.Tests.Lab;

/// <summary>
/// Tests that measure traffic against the kernel's limits run alone, after the rest: on a 2-core machine a
/// daemon starting or a build next to tcpreplay stalls it, and a source that pauses longer than burst ÷ rate
/// loses tokens it would have used, which reads as the limiter being wrong. The fleet's daemons too: their store
/// calls slowed past the breaker's slow-call time by the suite around them open it (a CI run at 7bfca5f: one
/// breaker open, the fleet 10 % over one limiter).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class KernelTrafficCollection
{
    public const string Name = "kernel traffic";
}
