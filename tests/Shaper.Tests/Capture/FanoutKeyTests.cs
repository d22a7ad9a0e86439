using Shaper.Capture;
using Shaper.Rules;

namespace Shaper.Tests.Capture;

public sealed class FanoutKeyTests
{
    private static Rule Observe(string name, KeyScope per, EnforceKind enforce = EnforceKind.Observe) => new() { Name = name, Per = per, Enforce = enforce };

    [Fact]
    public void For_SourceRules_HashesTheShortestSourcePrefix()
    {
        var key = FanoutKey.For([Observe("a", KeyScope.Source), Observe("b", new KeyScope(KeyKind.Source, 24, 64)), Observe("c", KeyScope.SourceAndDport)]);
        Assert.Equal(new FanoutKey(FanoutField.Source, 24, 64), key);
    }

    [Fact]
    public void For_KernelRulesAreIgnored_DestinationRulesHashTheDestination()
    {
        var key = FanoutKey.For([Observe("k", KeyScope.WholeRule, EnforceKind.Kernel), Observe("d", KeyScope.Destination)]);
        Assert.Equal(new FanoutKey(FanoutField.Destination, 32, 128), key);
    }

    [Theory]
    [InlineData(KeyKind.Rule)]
    [InlineData(KeyKind.Destination)]
    public void For_AWholeRuleBucketOrMixedEnds_PutsEveryPacketOnOneThread(KeyKind other)
    {
        var key = FanoutKey.For([Observe("a", KeyScope.Source), Observe("b", new KeyScope(other, 32, 128))]);
        Assert.Equal(FanoutKey.Single, key);
    }
}
