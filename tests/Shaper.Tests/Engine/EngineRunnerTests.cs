using Shaper.Engine;

namespace Shaper.Tests.Engine;

public sealed class EngineRunnerTests
{
    [Fact]
    public void Merge_AddsTotalsAndKeepsEveryLanesKeys()
    {
        var counters = new KeyCounters();
        IReadOnlyList<RuleReport> lane0 = [new("r", 3, 1, 0, 1, 0, [new("198.18.0.1", counters, 0, 10, 0)])];
        IReadOnlyList<RuleReport> lane1 = [new("r", 5, 2, 1, 2, 4, [new("198.18.0.2", counters, 0, 10, 0), new("198.18.0.3", counters, 0, 10, 0)])];
        var merged = Assert.Single(EngineRunner.Merge([lane0, lane1]));
        Assert.Equal(("r", 8L, 3L, 1L, 3, 4L), (merged.Name, merged.Passed, merged.Limited, merged.Delayed, merged.KeysTracked, merged.Evictions));
        Assert.Equal(["198.18.0.1", "198.18.0.2", "198.18.0.3"], merged.Keys.Select(k => k.Key));
    }
}
