using System.Net;
using Shaper.Engine;
using Shaper.Firewall;
using Shaper.Packets;
using Shaper.Plan;
using Shaper.Rules;

namespace Shaper.Tests.Firewall;

/// <summary>The observe rules' drop and reject sets in the nft script: one pair per rule, matched only with the rule's match.</summary>
public sealed class NftHoldSetsTests
{
    private static (string Script, Dictionary<string, string> Objects) Script(string rule)
    {
        var loaded = ConfigLoader.Parse($"[daemon]\ninterface = \"eth0\"\nmax_keys = 4096\n{rule}", "shaper.toml");
        Assert.True(loaded.Config is not null, string.Join("; ", loaded.Diagnostics));
        return NftScript.Apply(EnforcementPlan.Compile(loaded.Config!, BackendKind.Nftables), new Dictionary<string, string>(), []);
    }

    [Fact]
    public void Apply_ObserveDropPerSource_SetPerFamilyAndARuleWithTheRulesMatch()
    {
        var (script, objects) = Script("[[rule]]\nname = \"dns\"\nmatch = { proto = \"udp\", dport = [53] }\nalgorithm = \"sliding_log\"\nlimit = 30\nwindow = \"1s\"\nenforce = \"observe\"\n");

        Assert.Equal("{ type ipv4_addr; size 4096; flags timeout; }", objects["set drop_dns_v4"]);
        Assert.Equal("{ type ipv6_addr; size 4096; flags timeout; }", objects["set drop_dns_v6"]);
        Assert.Contains("add rule inet shaper input meta nfproto ipv4 meta l4proto udp th dport { 53 } ip saddr @drop_dns_v4 drop\n", script, StringComparison.Ordinal);
        Assert.Contains("add rule inet shaper input meta nfproto ipv6 meta l4proto udp th dport { 53 } ip6 saddr @drop_dns_v6 drop\n", script, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_ObserveRejectPerPrefix_MasksTheSourceAndJumpsToReject()
    {
        var (script, objects) = Script("[[rule]]\nname = \"web\"\nmatch = { proto = \"tcp\", dport = [80] }\nper = \"src/24\"\nalgorithm = \"fixed_window\"\nlimit = 30\nwindow = \"1s\"\nenforce = \"observe\"\naction = \"reject\"\n");

        Assert.True(objects.ContainsKey("set reject_web_v4_p24"));
        Assert.True(objects.ContainsKey("set reject_web_v6_p64"));
        Assert.Contains("ip saddr & 255.255.255.0 @reject_web_v4_p24 jump reject_any\n", script, StringComparison.Ordinal);
        Assert.Contains("ip6 saddr & ffff:ffff:ffff:ffff:: @reject_web_v6_p64 jump reject_any\n", script, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_ObserveDropPerRule_OneKeyOfNoAddressBits()
    {
        var (script, _) = Script("[[rule]]\nname = \"all\"\nmatch = { proto = \"udp\" }\nper = \"rule\"\nalgorithm = \"sliding_window\"\nlimit = 30\nwindow = \"1s\"\nenforce = \"observe\"\n");

        Assert.Contains("ip saddr & 0.0.0.0 @drop_all_v4_p0 drop\n", script, StringComparison.Ordinal);
        Assert.Equal(
            [new IPNetwork(IPAddress.Any, 0), new IPNetwork(IPAddress.IPv6Any, 0)],
            NftHoldSets.Networks(new HeldKey(IpFamily.V4, 0, 0, 0, KeyKind.Rule)));
    }

    [Theory]
    [InlineData("action = \"log\"\n")] // logs, stops nothing
    [InlineData("action = \"block\"\nblock_for = \"1m\"\n")] // the block sets
    [InlineData("mode = \"soft\"\n")] // a dry run
    public void Apply_ObserveRuleThatHoldsNothing_HasNoSet(string action)
    {
        var (script, _) = Script("[[rule]]\nname = \"r\"\nmatch = { proto = \"udp\" }\nalgorithm = \"sliding_log\"\nlimit = 30\nwindow = \"1s\"\nenforce = \"observe\"\n" + action);

        Assert.DoesNotContain("drop_r", script, StringComparison.Ordinal);
        Assert.DoesNotContain("reject_r", script, StringComparison.Ordinal);
    }
}
