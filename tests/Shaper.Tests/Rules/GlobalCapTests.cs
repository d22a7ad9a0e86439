using Shaper.Limiting;
using Shaper.Rules;

namespace Shaper.Tests.Rules;

/// <summary>
/// DOMAIN.md §2: a level below is capped by the level above, as API Gateway holds a route limit set above
/// the account limit at the account limit. A rule above [global] loads, held at the cap, with a warning.
/// </summary>
public sealed class GlobalCapTests
{
    private const string Global = "[global]\nrate = \"100/s\"\nburst = 50\n";

    [Fact]
    public void Parse_RuleRateAndBurstAboveGlobal_HeldAtGlobalWithTwoWarnings()
    {
        var result = ConfigText.Load(Global + "[[rule]]\nname = \"big\"\nrate = \"500/s\"\nburst = 100\n");

        Assert.Equal(
            [
                "shaper.toml:6:8: warning: rate '500/s' of [[rule]] 'big' is above the [global] rate '100/s'; it is held at '100/s'; lower it, or raise [global] rate",
                "shaper.toml:7:9: warning: burst 100 of [[rule]] 'big' is above the [global] burst 50; it is held at 50; lower it, or raise [global] burst",
            ],
            ConfigText.Lines(result));
        var rule = Assert.Single(result.Config!.Rules);
        Assert.Equal(new Rate(100, 1_000_000_000), rule.Rate!.Rate);
        Assert.Equal("100/s", rule.Rate.Text);
        Assert.Equal(50, rule.Burst);
    }

    [Theory]
    [InlineData("100/s", 50)] // exactly the cap
    [InlineData("6000/minute", 50)] // the same rate in another period
    [InlineData("10/s", 5)] // below
    [InlineData("1 mbytes/s", 1_000_000)] // bytes cannot be compared with a packet cap
    public void Parse_RuleAtOrBelowGlobal_KeptAsWritten(string rate, long burst)
    {
        var result = ConfigText.Load(Global + $"[[rule]]\nname = \"r\"\nrate = \"{rate}\"\nburst = {burst}\n");

        Assert.Empty(result.Diagnostics);
        var rule = Assert.Single(result.Config!.Rules);
        Assert.Equal(rate, rule.Rate!.Text);
        Assert.Equal(burst, rule.Burst);
    }

    [Fact]
    public void Parse_RateJustAboveGlobalInAnotherPeriod_ComparedExactly()
    {
        // 6001/minute is 100.0166…/s: above 100/s by a sixtieth, which rounding to a per-second figure would lose.
        var result = ConfigText.Load(Global + "[[rule]]\nname = \"r\"\nrate = \"6001/minute\"\nburst = 5\n");

        Assert.Single(result.Diagnostics);
        Assert.Equal("100/s", result.Config!.Rules[0].Rate!.Text);
    }
}
