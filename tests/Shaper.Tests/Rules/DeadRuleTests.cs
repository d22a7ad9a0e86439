namespace Shaper.Tests.Rules;

/// <summary>A rule whose every source is in [[allow]] can never act: allowed traffic is never limited.</summary>
public sealed class DeadRuleTests
{
    private const string Allow = "[[allow]]\ncidr = [\"10.0.0.0/8\", \"2001:db8::/32\"]\n";

    [Fact]
    public void Parse_RuleSourcesAllInsideAllow_WarnsAtMatchSrc()
    {
        var result = ConfigText.Load(Allow + ConfigText.Rule + "match = { src = [\"10.1.0.0/16\", \"2001:db8:1::/48\"] }\n");

        Assert.Equal(
            ["shaper.toml:7:11: warning: [[rule]] 'r1' can never act: every address in its match.src is in [[allow]]; allowed sources are never limited; narrow [[allow]] or change match.src"],
            ConfigText.Lines(result));
        Assert.NotNull(result.Config);
    }

    [Theory]
    [InlineData("[\"10.1.0.0/16\", \"192.0.2.0/24\"]")] // one source outside
    [InlineData("[\"0.0.0.0/0\"]")] // wider than the allowed network
    [InlineData("[\"2001:db9::/32\"]")] // beside it
    public void Parse_SomeSourceOutsideAllow_NoWarning(string src)
    {
        var result = ConfigText.Load(Allow + ConfigText.Rule + $"match = {{ src = {src} }}\n");

        Assert.Empty(result.Diagnostics);
    }

    [Fact]
    public void Parse_RuleWithoutSrc_NotDead()
    {
        Assert.Empty(ConfigText.Load(Allow + ConfigText.Rule).Diagnostics);
    }
}
