using Shaper.Firewall;
using Shaper.Plan;
using Shaper.Rules;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Plan;

/// <summary>
/// The iptables backend's burst limit (issue 11, item 8): the validator refuses every hashlimit bucket the kernel
/// refuses, and every one it would keep wrapped (its 64-bit credit count overflows), checked against iptables in a
/// namespace with the rule text the daemon writes.
/// </summary>
public sealed class HashlimitLimitsTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("1/day", 250, 1)] // measured at HZ = 250: burst 2 refused
    [InlineData("3/day", 250, 4)]
    [InlineData("1/hour", 250, 37)]
    [InlineData("10/minute", 250, 22_369)] // 22,370 refused, 22,371 taken with a wrapped bucket
    [InlineData("0.5/s", 250, 67_108)] // written 30/min
    [InlineData("10/s", 250, 1_000_000)] // the option's own limit, below the credits'
    [InlineData("1/hour", 1000, 37)] // HZ × credits per jiffy is the same power of two as at 250
    [InlineData("1/hour", 100, 46)] // larger credits per jiffy, fewer jiffies: more fits
    [InlineData("1/hour", 300, 31)]
    public void MaxHashlimitBurst_RateAndTickRate_TheLargestBucketThatDoesNotWrap(string rate, int hz, long expected)
    {
        Assert.Equal(expected, KernelLimits.MaxHashlimitBurst(Rate(rate), hz));
    }

    [Fact]
    public void MaxHashlimitBurst_ByteRate_NoCreditLimit()
    {
        Assert.Null(KernelLimits.MaxHashlimitBurst(Rate("1 mbytes/s"), 250));
    }

    [Fact]
    public void KernelHz_ReadFromTheCoarseClock_ACommonTickRate()
    {
        Assert.Contains(KernelLimits.KernelHz, new[] { 100, 250, 300, 1000 });
    }

    [RootFact]
    public void Validate_AtEachEdge_RefusesWhatIptablesRefusesOrWouldWrap()
    {
        using var lab = NetworkLab.Create();
        var rows = new List<(string Rate, long Burst)>();
        foreach (var rate in new[] { "1/day", "3/day", "1/hour", "10/minute", "0.5/s", "100/s", "10/s" })
        {
            var most = KernelLimits.MaxHashlimitBurst(Rate(rate), KernelLimits.KernelHz)!.Value;
            rows.Add((rate, most));
            rows.Add((rate, most + 1));
        }

        var disagreements = new List<string>();
        var refusedJustOver = new List<string>();
        foreach (var (rate, burst) in rows)
        {
            var text = $"[daemon]\nbackend = \"iptables\"\n[[rule]]\nname = \"k\"\nrate = \"{rate}\"\nburst = {burst}\n";
            var valid = !ConfigLoader.Parse(text, "t.toml").HasErrors;
            // The rule text the daemon writes for the largest bucket the validator takes, with this row's burst.
            var most = KernelLimits.MaxHashlimitBurst(Rate(rate), KernelLimits.KernelHz)!.Value;
            var largest = ConfigLoader.Parse(text.Replace($"burst = {burst}", $"burst = {most}", StringComparison.Ordinal), "t.toml").Config!;
            var script = IptablesScript.Apply(EnforcementPlan.Compile(largest, BackendKind.Iptables), true, [], [], addJump: false)
                .Replace($"--hashlimit-burst {most} ", $"--hashlimit-burst {burst} ", StringComparison.Ordinal);
            Assert.Contains($"--hashlimit-burst {burst} ", script, StringComparison.Ordinal);
            var taken = Run.Command("ip", ["netns", "exec", lab.B, "iptables-restore", "-w", "--noflush"], script).ExitCode == 0;
            var wraps = burst > most && most < KernelLimits.HashlimitBurstOption;
            output.WriteLine($"{rate,-10} burst {burst,9:N0}: validator {(valid ? "accepts" : "refuses")}, iptables {(taken ? "takes" : "refuses")}{(taken && wraps ? " it with a wrapped bucket" : "")}");

            // The validator takes exactly what the kernel takes whole; what the kernel refuses, it refuses too.
            if (valid != (taken && !wraps))
            {
                disagreements.Add($"{rate} burst {burst}");
            }

            if (!taken && burst == most + 1)
            {
                refusedJustOver.Add(rate);
            }
        }

        Assert.Empty(disagreements);

        // The edge is the kernel's, not the formula's: one burst over it, the kernel itself refuses the slow rates
        // (measured: the wrapped credits fall below one packet's there), and iptables the option over 1,000,000.
        Assert.Contains("1/day", refusedJustOver);
        Assert.Contains("1/hour", refusedJustOver);
        Assert.Contains("10/s", refusedJustOver);
    }

    private static RateSpec Rate(string rate)
    {
        Assert.True(RateParser.TryParse(rate, out var parsed, out _));
        return parsed!;
    }
}
