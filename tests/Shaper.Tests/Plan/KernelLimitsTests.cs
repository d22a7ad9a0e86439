using Shaper.Firewall;
using Shaper.Plan;
using Shaper.Rules;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Plan;

/// <summary>
/// The validator refuses exactly the buckets the kernel refuses: each row is checked by the validator and by nft in a
/// namespace of its own, with the limit text the daemon writes, as a per-key meter and as a named limit (the <c>[global]</c> cap).
/// </summary>
public sealed class KernelLimitsTests(ITestOutputHelper output)
{
    public static TheoryData<string, long> Rows => new()
    {
        { "1/day", 213_503 }, { "1/day", 213_504 },               // the issue's daemon that exited at every start
        { "5/day", 1_067_519 }, { "5/day", 1_067_520 },
        { "1/hour", 5_124_095 }, { "1/hour", 5_124_096 },
        { "1/minute", 307_445_734 }, { "1/minute", 307_445_735 },
        { "10/minute", 3_074_457_345 }, { "10/minute", 3_074_457_346 },
        { "1/s", 4_294_967_295 },                                 // the largest burst the file can hold
        { "1 bytes/minute", 307_445_733 }, { "1 bytes/minute", 307_445_734 },
        { "1 kbytes/hour", 5_123_071 }, { "1 kbytes/hour", 5_123_072 },
        { "1000 bytes/day", 212_503 }, { "1000 bytes/day", 212_504 },
        { "1 mbytes/day", 1 },                                    // no burst fits a day of this rate
        { "1 mbytes/s", 4_294_967_295 },
    };

    [Theory]
    [InlineData("1/day", 213_503)] // the largest bucket nft took, bisected against this kernel
    [InlineData("5/day", 1_067_519)]
    [InlineData("1/hour", 5_124_095)]
    [InlineData("1/minute", 307_445_734)]
    [InlineData("10/minute", 3_074_457_345)]
    [InlineData("1/s", 4_294_967_295)] // every burst the file can hold
    [InlineData("1 bytes/minute", 307_445_733)]
    [InlineData("1 kbytes/hour", 5_123_071)]
    [InlineData("1000 bytes/day", 212_503)]
    [InlineData("1 mbytes/day", 0)] // none
    public void MaxNftBurst_Rate_IsTheLargestBucketTheKernelTook(string rate, long expected)
    {
        var spec = ConfigLoader.Parse($"[[rule]]\nname = \"k\"\nrate = \"{rate}\"\nburst = 5\n", "t.toml", LoadOptions.Replay).Config!.Rules[0].Rate!;

        Assert.Equal(expected, KernelLimits.MaxNftBurst(spec));
    }

    [RootFact]
    public void Validate_EveryRow_RefusesExactlyWhatNftRefuses()
    {
        using var lab = NetworkLab.Create();
        var disagreements = new List<string>();
        foreach (var row in Rows)
        {
            var (rate, burst) = ((string)row[0], (long)row[1]);
            var text = $"[daemon]\nbackend = \"nftables\"\n[[rule]]\nname = \"k\"\nrate = \"{rate}\"\nburst = {burst}\n";
            var valid = !ConfigLoader.Parse(text, "t.toml").HasErrors;
            var spec = ConfigLoader.Parse(text, "t.toml", LoadOptions.Replay).Config!.Rules[0].Rate!;
            var limit = NftScript.KernelLimit(spec, burst);
            var meter = Nft(lab, $"add set inet kl m {{ type ipv4_addr; size 16; flags dynamic,timeout; timeout 60s; }}\nadd chain inet kl c\nadd rule inet kl c update @m {{ ip saddr limit rate over {limit} }} drop\n");
            var named = Nft(lab, $"add limit inet kl g {{ rate over {limit} }}\n");
            output.WriteLine($"{rate,-16} burst {burst,13:N0}: validator {(valid ? "accepts" : "refuses")}, nft meter {(meter ? "accepts" : "refuses")}, nft named limit {(named ? "accepts" : "refuses")}");
            if (valid != meter || valid != named)
            {
                disagreements.Add($"{rate} burst {burst}");
            }
        }

        Assert.Empty(disagreements);
    }

    private static bool Nft(NetworkLab lab, string body) =>
        Run.Command("ip", ["netns", "exec", lab.B, "nft", "-f", "-"], "add table inet kl\ndelete table inet kl\nadd table inet kl\n" + body).ExitCode == 0;
}
