using Shaper.Plan;
using Shaper.Rules;
using Xunit.Abstractions;

namespace Shaper.Tests.Plan;

/// <summary>
/// Every rule no enforcer of the configuration can carry out is refused by the validator that
/// <c>shaperctl rules validate</c> and the daemon run, with file:line:column, the reason and what to write instead.
/// One row per combination; the test prints the table.
/// </summary>
public sealed class EnforcerRefusalTests(ITestOutputHelper output)
{
    private const string Eth0 = "[daemon]\ninterface = \"eth0\"\n";
    private const string Kernel = "[[rule]]\nname = \"k\"\nrate = \"10/s\"\nburst = 5\n";
    /// <summary>The largest burst iptables' hashlimit holds at <paramref name="rate"/> on this kernel (37 at 1/hour at HZ = 250).</summary>
    private static long? HashlimitMost(string rate) =>
        RateParser.TryParse(rate, out var parsed, out _) ? KernelLimits.MaxHashlimitBurst(parsed!, KernelLimits.KernelHz) : null;

    private const string SlowKernel = "[[rule]]\nname = \"k\"\nrate = \"1/day\"\nburst = 5\n";

    public static TheoryData<string, string, string> Refused => new()
    {
        { "queue rule, backend = \"none\"", "[daemon]\nbackend = \"none\"\n[[rule]]\nname = \"q\"\nalgorithm = \"leaky_bucket\"\nrate = \"5/s\"\nqueue = 10\nenforce = \"queue\"\n", "shaper.toml:8:11: [[rule]] 'q' uses enforce = \"queue\" but [daemon] backend = \"none\" installs nothing, so no packet would reach the queue; set backend = \"auto\"" },
        { "queue rule, action = \"block\"", "[[rule]]\nname = \"q\"\nalgorithm = \"leaky_bucket\"\nrate = \"5/s\"\nqueue = 10\nenforce = \"queue\"\naction = \"block\"\nblock_for = \"10m\"\n", "shaper.toml:7:10: action = \"block\" of queue [[rule]] 'q' is not carried out: a full queue drops (or rejects) its newest packet; use action = \"drop\" or \"reject\", or enforce = \"observe\" to block" },
        { "kernel rule, backend = \"none\"", "[daemon]\nbackend = \"none\"\n" + Kernel, "shaper.toml:3:1: [[rule]] 'k' is enforced by the kernel but [daemon] backend = \"none\" installs nothing; set backend = \"auto\", or use enforce = \"observe\"" },
        { "observe rule, no capture interface", "[[rule]]\nname = \"o\"\nalgorithm = \"sliding_log\"\nlimit = 30\nwindow = \"1s\"\nenforce = \"observe\"\n", "shaper.toml:6:11: [[rule]] 'o' uses enforce = \"observe\" but [daemon] interface is \"\" (no capture), so it never sees a packet; set [daemon] interface = \"eth0\" (the interface to watch), or use enforce = \"kernel\"" },
        { "match.iface ending in '+'", Kernel + "match = { iface = \"v+\" }\n", "shaper.toml:5:19: match.iface of [[rule]] 'k': 'v+' ends in '+', which iptables reads as every interface starting with 'v' and nftables as the name 'v+'; write \"v*\" for every interface whose name starts with 'v' (the same on every backend), or the interface's full name" },
        { "iptables, byte rate not whole per second", "[daemon]\nbackend = \"iptables\"\n[[rule]]\nname = \"k\"\nrate = \"1 kbytes/minute\"\nburst = 5000\n", "shaper.toml:5:8: rate '1 kbytes/minute' is not a whole number of bytes per second up to 4294967295, which iptables hashlimit needs, so iptables cannot enforce [[rule]] 'k'; write a whole number of bytes per second, e.g. \"125000 bytes/s\" (hashlimit counts bytes per second only), or set backend = \"nftables\"" },
        { "iptables, packet rate above 1000000/s", "[daemon]\nbackend = \"iptables\"\n[[rule]]\nname = \"k\"\nrate = \"2000000/s\"\nburst = 5\n", "shaper.toml:5:8: rate '2000000/s' is above 1000000/s, the fastest iptables hashlimit counts, so iptables cannot enforce [[rule]] 'k'; write a whole number per second, minute, hour or day up to 1000000/s, or set backend = \"nftables\"" },
        { "iptables, burst above 1000000", "[daemon]\nbackend = \"iptables\"\n[[rule]]\nname = \"k\"\nrate = \"10/s\"\nburst = 1000001\n", "shaper.toml:6:9: burst 1000001 of [[rule]] 'k' is more than iptables hashlimit takes (at most 1000000 packets); lower burst to at most 1000000, or set backend = \"nftables\"" },
        { "iptables, [global] rate it cannot write", "[daemon]\nbackend = \"iptables\"\n[global]\nrate = \"1 kbytes/minute\"\nburst = 5000\n" + SlowKernel.Replace("burst = 5", "burst = 1", StringComparison.Ordinal), "shaper.toml:4:8: [global] rate '1 kbytes/minute' is not a whole number of bytes per second up to 4294967295, which iptables hashlimit needs, so iptables cannot write the cap it holds the rules to; write a whole number of bytes per second, e.g. \"125000 bytes/s\" (hashlimit counts bytes per second only), or set backend = \"nftables\"" }, // iptables holds 1 packet at 1/day
        { "nftables, [global] rate it cannot write", "[daemon]\nbackend = \"nftables\"\n[global]\nrate = \"0.0001/s\"\nburst = 5\n" + SlowKernel, "shaper.toml:4:8: [global] rate '0.0001/s' is not a whole number per second, minute, hour or day, so nftables cannot write the cap it holds the rules to; write a rate such as \"20000/s\" or \"30/minute\"" },
        { "[global] with backend = \"none\"", "[daemon]\ninterface = \"eth0\"\nbackend = \"none\"\n[global]\nrate = \"100/s\"\nburst = 50\n[[rule]]\nname = \"o\"\nalgorithm = \"sliding_log\"\nlimit = 30\nwindow = \"1s\"\nenforce = \"observe\"\naction = \"log\"\n", "shaper.toml:5:8: [global] is a cap the kernel holds every rule to, but [daemon] backend = \"none\" installs nothing; set backend = \"auto\", or remove [global]" },
        { "iptables, burst over the kernel's credits (1/hour)", "[daemon]\nbackend = \"iptables\"\n[[rule]]\nname = \"k\"\nrate = \"1/hour\"\nburst = 38\n", $"shaper.toml:6:9: burst 38 of [[rule]] 'k' is more than iptables hashlimit holds at rate '1/hour': its bucket of at most {HashlimitMost("1/hour")} packets would overflow the kernel's 64-bit credit count; lower burst to at most {HashlimitMost("1/hour")}, write the rate over a shorter period, or set backend = \"nftables\"" },
        { "nftables, burst over the kernel's bucket (1/day)", "[daemon]\nbackend = \"nftables\"\n[[rule]]\nname = \"k\"\nrate = \"1/day\"\nburst = 213504\n", "shaper.toml:6:9: burst 213504 of [[rule]] 'k' is more than nftables holds at rate '1/day': the kernel refuses a bucket above 213503 packets (its token count overflows 64 bits); lower burst to at most 213503, or write the rate over a shorter period" },
        { "nftables, burst over the kernel's bucket (1/hour)", "[daemon]\nbackend = \"nftables\"\n[[rule]]\nname = \"k\"\nrate = \"1/hour\"\nburst = 5124096\n", "shaper.toml:6:9: burst 5124096 of [[rule]] 'k' is more than nftables holds at rate '1/hour': the kernel refuses a bucket above 5124095 packets (its token count overflows 64 bits); lower burst to at most 5124095, or write the rate over a shorter period" },
        { "nftables, burst over the kernel's bucket (1/minute)", "[daemon]\nbackend = \"nftables\"\n[[rule]]\nname = \"k\"\nrate = \"1/minute\"\nburst = 307445735\n", "shaper.toml:6:9: burst 307445735 of [[rule]] 'k' is more than nftables holds at rate '1/minute': the kernel refuses a bucket above 307445734 packets (its token count overflows 64 bits); lower burst to at most 307445734, or write the rate over a shorter period" },
        { "nftables, byte rate too fast for its period", "[daemon]\nbackend = \"nftables\"\n[[rule]]\nname = \"k\"\nrate = \"1 mbytes/day\"\nburst = 1000\n", "shaper.toml:5:8: rate '1 mbytes/day' of [[rule]] 'k' is too fast for its period in nftables: the kernel's bucket of one day overflows whatever the burst; write the rate per second, e.g. the same amount divided by the seconds in its period" },
        { "nftables, [global] burst over the kernel's bucket", "[daemon]\nbackend = \"nftables\"\n[global]\nrate = \"1/hour\"\nburst = 5124096\n" + SlowKernel, "shaper.toml:5:9: burst 5124096 of [global] is more than nftables holds at rate '1/hour': the kernel refuses a bucket above 5124095 packets (its token count overflows 64 bits); lower burst to at most 5124095, or write the rate over a shorter period" },
        { "auto, iptables fallback cannot (warning)", "[[rule]]\nname = \"k\"\nrate = \"1 kbytes/minute\"\nburst = 5000\n", "shaper.toml:3:8: warning: rate '1 kbytes/minute' is not a whole number of bytes per second up to 4294967295, which iptables hashlimit needs, so iptables cannot enforce [[rule]] 'k' (backend = \"auto\" uses iptables where nftables is unusable); set backend = \"nftables\" to rule iptables out; else write a whole number of bytes per second, e.g. \"125000 bytes/s\" (hashlimit counts bytes per second only), or set backend = \"nftables\"" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void Validate_RuleNoEnforcerCanCarry_RefusedWithPlaceReasonAndFix(string combination, string toml, string expected)
    {
        var result = ConfigLoader.Parse(toml, "shaper.toml");

        foreach (var diagnostic in result.Diagnostics)
        {
            output.WriteLine($"| {combination} | `{diagnostic}` |");
        }

        var line = Assert.Single(result.Diagnostics).ToString();
        Assert.Equal(expected, line);
    }
}
