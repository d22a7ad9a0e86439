using System.Net;
using Shaper.Firewall;
using Shaper.Plan;
using Shaper.Rules;

namespace Shaper.Tests.Firewall;

/// <summary>The iptables backend's scripts, as text: rates in hashlimit's units, keys, ownership. No root needed.</summary>
public sealed class IptablesScriptTests
{
    [Theory]
    [InlineData("10/s", "10/sec")] // whole per second stays per second
    [InlineData("0.5/s", "30/min")] // not whole per second: the smallest unit where it is whole
    [InlineData("3/minute", "3/min")]
    [InlineData("90/hour", "90/hour")] // 1.5/min: per hour is the first whole unit
    [InlineData("1/day", "1/day")]
    [InlineData("1000000/s", "1000000/sec")] // hashlimit's fastest (its scale is 1 µs)
    [InlineData("1 mbytes/s", "1048576b/s")] // bytes: whole bytes per second, the only byte period hashlimit has
    [InlineData("8 mbit/s", "1000000b/s")] // bits are 1000-based and stored as bytes
    [InlineData("60 kbytes/minute", "1024b/s")] // 1 KiB/s exactly
    public void Rate_Expressible_InHashlimitUnits(string configured, string expected)
    {
        Assert.True(RateParser.TryParse(configured, out var rate, out _));
        Assert.Equal(expected, IptablesScript.Rate(rate, out var error));
        Assert.Null(error);
    }

    [Theory]
    [InlineData("2000000/s", "above 1000000/s")] // faster than hashlimit counts
    [InlineData("1 kbytes/minute", "whole number of bytes per second")] // 17.07 B/s
    public void Rate_NotExpressible_SaysWhy(string configured, string why)
    {
        Assert.True(RateParser.TryParse(configured, out var rate, out _));
        Assert.Null(IptablesScript.Rate(rate, out var error));
        Assert.Contains(why, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("src", true, "--hashlimit-mode srcip --hashlimit-htable")] // the address
    [InlineData("src/24", true, "--hashlimit-mode srcip --hashlimit-srcmask 24 ")]
    [InlineData("src/24", false, "--hashlimit-mode srcip --hashlimit-srcmask 64 ")] // IPv6 keyed by its /64
    [InlineData("src/64", false, "--hashlimit-mode srcip --hashlimit-srcmask 64 ")]
    [InlineData("dst", true, "--hashlimit-mode dstip --hashlimit-htable")]
    [InlineData("src+dport", true, "--hashlimit-mode srcip,dstport ")]
    public void Apply_Per_BecomesTheHashlimitKey(string per, bool v4, string expected)
    {
        var script = IptablesScript.Apply(Plan($"per = \"{per}\""), v4, [], [], addJump: true);

        Assert.Contains(expected, script, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_PerRule_OneBucketWithoutAKey()
    {
        var script = IptablesScript.Apply(Plan("per = \"rule\""), true, [], [], addJump: false);

        Assert.Contains("--hashlimit-above 10/sec --hashlimit-burst 5 --hashlimit-htable", script, StringComparison.Ordinal);
        Assert.DoesNotContain("--hashlimit-mode", script, StringComparison.Ordinal);
        Assert.DoesNotContain("-I INPUT", script, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_MorePortsThanMultiportTakes_SplitAcrossRulesSharingATable()
    {
        // multiport takes 15 ports, a range counting as two: 13 ports and one range fill the first rule.
        var ports = string.Join(", ", Enumerable.Range(1, 13).Select(p => p.ToString(System.Globalization.CultureInfo.InvariantCulture))) + ", \"8000-8100\", 443";
        var config = ConfigLoader.Parse($"[[rule]]\nname = \"r\"\nmatch = {{ proto = \"tcp\", dport = [{ports}] }}\nper = \"src+dport\"\nrate = \"10/s\"\nburst = 5\n", "t.toml").Config!;
        var lines = IptablesScript.Apply(EnforcementPlan.Compile(config, BackendKind.Iptables), true, [], [], addJump: true).Split('\n').Where(l => l.Contains("limited", StringComparison.Ordinal)).ToList();

        Assert.Equal(2, lines.Count);
        Assert.Contains("-p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,8000:8100 -m hashlimit", lines[0], StringComparison.Ordinal);
        Assert.Contains("-p tcp -m multiport --dports 443 -m hashlimit", lines[1], StringComparison.Ordinal);
        Assert.Equal(lines[0].Split("--hashlimit-name ")[1], lines[1].Split("--hashlimit-name ")[1]);
    }

    [Fact]
    public void Apply_GlobalAndQueueRule_QueuedPacketsDrawFromTheCapBeforeTheQueueChain()
    {
        var config = ConfigLoader.Parse("[global]\nrate = \"1000/s\"\nburst = 2000\n[[rule]]\nname = \"q\"\nmatch = { proto = \"udp\", dport = [9001] }\nalgorithm = \"leaky_bucket\"\nrate = \"50/s\"\nqueue = 10\nenforce = \"queue\"\n", "t.toml").Config!;
        var lines = IptablesScript.Apply(EnforcementPlan.Compile(config, BackendKind.Iptables), true, [], [], addJump: true).Split('\n');

        Assert.Contains(lines, l => l.StartsWith("-A SHAPER-INPUT -p udp -m multiport --dports 9001 -m hashlimit --hashlimit-above 1000/sec --hashlimit-burst 2000 ", StringComparison.Ordinal) && l.EndsWith(" -j DROP", StringComparison.Ordinal));
    }

    [Fact]
    public void Apply_AllowBlocksAndCaps_InOrderBeforeTheRules()
    {
        var config = ConfigLoader.Parse("[global]\nrate = \"1000/s\"\nburst = 2000\n[[allow]]\ncidr = [\"198.18.0.1/32\"]\n[[rule]]\nname = \"r\"\nmatch = { proto = \"udp\" }\nrate = \"10/s\"\nburst = 5\naction = \"block\"\nblock_for = \"2m\"\n", "t.toml").Config!;
        var lines = IptablesScript.Apply(EnforcementPlan.Compile(config, BackendKind.Iptables), true, [IPNetwork.Parse("198.18.9.0/24"), IPNetwork.Parse("2001:db8::/64")], ["SHAPER-INPUT", "SHAPER-LOG-old"], addJump: true).Split('\n');

        Assert.Equal(
            [
                "*filter", ":SHAPER-INPUT - [0:0]", ":SHAPER-BLOCK - [0:0]", ":SHAPER-REJECT - [0:0]",
                "-F SHAPER-LOG-old", "-X SHAPER-LOG-old", "-I INPUT 1 -j SHAPER-INPUT",
                "-A SHAPER-INPUT -s 198.18.0.1/32 -j RETURN", "-A SHAPER-INPUT -j SHAPER-BLOCK",
                "-A SHAPER-INPUT -m recent --name shaper-r --rcheck --seconds 120 -j DROP",
                "-A SHAPER-INPUT -p udp -m comment --comment \"shaper:r:matched\"",
            ],
            lines[..11]);
        Assert.StartsWith("-A SHAPER-INPUT -p udp -m hashlimit --hashlimit-above 1000/sec --hashlimit-burst 2000 ", lines[11], StringComparison.Ordinal);
        Assert.EndsWith("-m comment --comment \"shaper:r:limited\" -m recent --name shaper-r --set -j DROP", lines[12], StringComparison.Ordinal);
        Assert.Contains("-A SHAPER-BLOCK -s 198.18.9.0/24 -j DROP", lines);
        Assert.DoesNotContain(lines, l => l.Contains("2001:db8", StringComparison.Ordinal)); // IPv6 blocks go to ip6tables
    }

    [Fact]
    public void TableName_SameDefinitionSameName_ChangedDefinitionAnother()
    {
        string Name(string rate) => IptablesScript.Apply(Plan("", rate), true, [], [], addJump: false).Split("--hashlimit-name ")[1].Split(' ')[0];

        Assert.Equal(Name("10/s"), Name("10/s")); // a reload keeps the buckets
        Assert.NotEqual(Name("10/s"), Name("20/s")); // a changed limit starts afresh
        Assert.True(Name("10/s").Length <= 15, "hashlimit names are at most 15 characters");
    }

    [Fact]
    public void Remove_TakesOutOnlyTheShapersChainsAndJump()
    {
        const string Save = """
            *filter
            :INPUT ACCEPT [0:0]
            :OTHER-INPUT - [0:0]
            :SHAPER-BLOCK - [0:0]
            :SHAPER-INPUT - [0:0]
            -A INPUT -j OTHER-INPUT
            -A INPUT -j SHAPER-INPUT
            -A OTHER-INPUT -s 198.18.5.0/24 -j ACCEPT
            -A SHAPER-INPUT -j SHAPER-BLOCK
            COMMIT
            """;

        Assert.Equal("*filter\n-D INPUT -j SHAPER-INPUT\n-F SHAPER-BLOCK\n-F SHAPER-INPUT\n-X SHAPER-BLOCK\n-X SHAPER-INPUT\nCOMMIT\n", IptablesScript.Remove(Save));
        Assert.Equal("", IptablesScript.Remove("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"));
    }

    private static EnforcementPlan Plan(string per, string rate = "10/s") => EnforcementPlan.Compile(Config(per, rate), BackendKind.Iptables);

    private static ShaperConfig Config(string per, string rate = "10/s") =>
        ConfigLoader.Parse($"[[rule]]\nname = \"r\"\nmatch = {{ proto = \"udp\", dport = [9000] }}\n{per}\nrate = \"{rate}\"\nburst = 5\n", "t.toml").Config!;
}
