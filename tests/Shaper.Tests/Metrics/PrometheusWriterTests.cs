using Shaper.Metrics;

namespace Shaper.Tests.Metrics;

public sealed class PrometheusWriterTests
{
    [Fact]
    public void ToString_TwoSamplesOfOneFamily_OneHeaderAndEscapedLabels()
    {
        var text = new PrometheusWriter()
            .Counter("shaper_rule_passed_total", "Packets passed.", 6, ("rule", "ssh-new"))
            .Counter("shaper_rule_passed_total", "Packets passed.", 1.5, ("rule", "we\"ird\\"))
            .ToString();

        Assert.Equal(
            "# HELP shaper_rule_passed_total Packets passed.\n# TYPE shaper_rule_passed_total counter\n"
            + "shaper_rule_passed_total{rule=\"ssh-new\"} 6\nshaper_rule_passed_total{rule=\"we\\\"ird\\\\\"} 1.5\n",
            text);
    }
}
