namespace Shaper.Tests.Lab;

/// <summary>
/// Tests that measure traffic against the kernel's limits run alone, after the rest: on a 2-core machine a
/// daemon starting or a build next to tcpreplay stalls it, and a source that pauses longer than burst ÷ rate
/// loses tokens it would have used, which reads as the limiter being wrong.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class KernelTrafficCollection
{
    public const string Name = "kernel traffic";
}
