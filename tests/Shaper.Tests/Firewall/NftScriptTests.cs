using Shaper.Firewall;
using Shaper.Plan;
using Shaper.Rules;

namespace Shaper.Tests.Firewall;

/// <summary>The nftables backend's apply script, as text: objects, rules, verdicts, and what a reload keeps. No root needed.</summary>
public sealed class NftScriptTests
{
    private const string Rule = "[[rule]]\nname = \"r\"\nmatch = { proto = \"udp\", dport = [9000] }\nrate = \"10/s\"\nburst = 5\n";

    [Fact]
    public void Apply_KernelRule_MeterSetCountersAndOneLimitRulePerFamily()
    {
        var (script, objects) = NftScript.Apply(Plan(Rule), new Dictionary<string, string>(), []);
        var lines = script.Split('\n');

        Assert.Equal("add table inet shaper", lines[0]);
        Assert.Contains("add set inet shaper m_r_v4 { type ipv4_addr; size 262144; flags dynamic,timeout; timeout 60s; comment \"limit 10/second burst 5 packets\"; }", lines);
        Assert.Contains("add counter inet shaper c_r_matched", lines);
        Assert.Contains("add rule inet shaper input meta nfproto ipv4 meta l4proto udp th dport { 9000 } counter name \"c_r_matched\"", lines);
        Assert.Contains("add rule inet shaper input meta nfproto ipv4 meta l4proto udp th dport { 9000 } update @m_r_v4 { ip saddr limit rate over 10/second burst 5 packets } counter name \"c_r_limited\" drop", lines);
        Assert.Contains("add rule inet shaper input meta nfproto ipv6 meta l4proto udp th dport { 9000 } update @m_r_v6 { ip6 saddr limit rate over 10/second burst 5 packets } counter name \"c_r_limited\" drop", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("delete ", StringComparison.Ordinal)); // nothing before to delete
        Assert.Equal(["counter c_r_limited", "counter c_r_matched", "set m_r_v4", "set m_r_v6"], objects.Keys.Where(k => k.Contains("_r_", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Apply_SameRuleAgain_KeepsEveryObject()
    {
        var (_, first) = NftScript.Apply(Plan(Rule), new Dictionary<string, string>(), []);

        var (script, second) = NftScript.Apply(Plan(Rule), first, []);

        Assert.DoesNotContain("\ndelete ", script, StringComparison.Ordinal); // the meter sets keep their buckets
        Assert.Contains("flush chain inet shaper input\n", script, StringComparison.Ordinal); // the rules are written again
        Assert.Equal(first, second);
    }

    [Theory]
    [InlineData("burst = 5", "burst = 9")] // the same set otherwise: its elements would keep burst 5
    [InlineData("10/s", "20/s")]
    public void Apply_ChangedLimit_DeletesAndRecreatesTheMeterSets(string from, string to)
    {
        var (_, first) = NftScript.Apply(Plan(Rule), new Dictionary<string, string>(), []);

        var (script, _) = NftScript.Apply(Plan(Rule.Replace(from, to, StringComparison.Ordinal)), first, []);

        Assert.Equal(
            ["delete set inet shaper m_r_v4", "delete set inet shaper m_r_v6"],
            script.Split('\n').Where(l => l.StartsWith("delete ", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Apply_ChangedMeterDefinition_DeletesAndRecreatesOnlyTheMeterSets()
    {
        var (_, first) = NftScript.Apply(Plan(Rule), new Dictionary<string, string>(), []);

        var (script, _) = NftScript.Apply(Plan(Rule.Replace("10/s", "1/minute", StringComparison.Ordinal)), first, []);
        var deletes = script.Split('\n').Where(l => l.StartsWith("delete ", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();

        // A longer refill (5 minutes) makes a longer meter timeout, a new set definition; the counters are the same objects.
        Assert.Equal(["delete set inet shaper m_r_v4", "delete set inet shaper m_r_v6"], deletes);
        Assert.True(script.IndexOf("flush chain inet shaper input", StringComparison.Ordinal) < script.IndexOf("delete set", StringComparison.Ordinal), "the chain is flushed before the sets its rules use go");
    }

    [Fact]
    public void Apply_RuleRemovedAndAdoptedUnknownObjects_AreDeleted()
    {
        var (_, first) = NftScript.Apply(Plan(Rule), new Dictionary<string, string>(), []);

        var (script, objects) = NftScript.Apply(Plan(""), first, ["limit l_old"]);

        Assert.Contains("delete set inet shaper m_r_v4\n", script, StringComparison.Ordinal);
        Assert.Contains("delete counter inet shaper c_r_limited\n", script, StringComparison.Ordinal);
        Assert.Contains("delete limit inet shaper l_old\n", script, StringComparison.Ordinal);
        Assert.DoesNotContain(objects.Keys, k => k.Contains("_r_", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("per = \"src/24\"", "update @m_r_v4 { ip saddr and 255.255.255.0 limit")] // masked to the /24
    [InlineData("per = \"dst\"", "update @m_r_v4 { ip daddr limit")]
    [InlineData("per = \"src+dport\"", "update @m_r_v4 { ip saddr . th dport limit")]
    [InlineData("per = \"rule\"", "limit name \"l_r\" counter name \"c_r_limited\" drop")] // one named limit, no set
    [InlineData("action = \"reject\"", "counter name \"c_r_limited\" jump reject_any")]
    [InlineData("action = \"log\"", "counter name \"c_r_limited\" jump log_r")]
    [InlineData("match = { proto = \"udp\", dport = [9000], iface = \"vb\" }", "meta nfproto ipv4 iifname \"vb\" meta l4proto udp")]
    public void Apply_RuleOptions_BecomeTheMatchKeyAndVerdict(string option, string expected)
    {
        var rule = option.StartsWith("match", StringComparison.Ordinal)
            ? Rule.Replace("match = { proto = \"udp\", dport = [9000] }", option, StringComparison.Ordinal)
            : Rule + option + "\n";

        var (script, _) = NftScript.Apply(Plan(rule), new Dictionary<string, string>(), []);

        Assert.Contains(expected, script, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_SoftRule_CountsWithoutAVerdict()
    {
        var (script, _) = NftScript.Apply(Plan(Rule + "mode = \"soft\"\n"), new Dictionary<string, string>(), []);

        Assert.Contains("limit rate over 10/second burst 5 packets } counter name \"c_r_limited\"\n", script, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_AllowAndGlobal_AcceptFirstThenTheSharedCap()
    {
        var plan = Plan("[global]\nrate = \"1000/s\"\nburst = 2000\n[[allow]]\ncidr = [\"198.18.0.0/15\", \"2001:db8::/32\"]\n" + Rule);

        var (script, objects) = NftScript.Apply(plan, new Dictionary<string, string>(), []);
        var rules = script.Split('\n').Where(l => l.StartsWith("add rule inet shaper input ", StringComparison.Ordinal)).ToList();

        Assert.Equal("add rule inet shaper input ip saddr { 198.18.0.0/15 } accept", rules[0]);
        Assert.Equal("add rule inet shaper input ip6 saddr { 2001:db8::/32 } accept", rules[1]);
        Assert.Equal("{ rate over 1000/second burst 2000 packets }", objects["limit l_global"]);
        Assert.Contains(rules, r => r.EndsWith("limit name \"l_global\" counter name \"c_global_limited\" drop", StringComparison.Ordinal));
    }

    [Fact]
    public void Apply_GlobalAndQueueRule_QueuedPacketsDrawFromTheCapFirst()
    {
        var plan = Plan("[global]\nrate = \"1000/s\"\nburst = 2000\n[[rule]]\nname = \"q\"\nmatch = { proto = \"udp\", dport = [9001] }\nalgorithm = \"leaky_bucket\"\nrate = \"50/s\"\nqueue = 10\nenforce = \"queue\"\n");

        var (script, objects) = NftScript.Apply(plan, new Dictionary<string, string>(), []);

        // This table runs before the filter table's NFQUEUE rule: a packet over the cap never reaches the queue.
        Assert.Equal("{ rate over 1000/second burst 2000 packets }", objects["limit l_global"]);
        Assert.Contains("add rule inet shaper input meta nfproto ipv4 meta l4proto udp th dport { 9001 } limit name \"l_global\" counter name \"c_global_limited\" drop\n", script, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("10/minute", 5, "10/minute burst 5 packets")]
    [InlineData("1 mbytes/s", 65536, "1048576 bytes/second burst 65536 bytes")]
    public void KernelLimit_PacketsAndBytes(string rate, long burst, string expected)
    {
        Assert.True(RateParser.TryParse(rate, out var parsed, out _));

        Assert.Equal(expected, NftScript.KernelLimit(parsed, burst));
    }

    private static EnforcementPlan Plan(string rules) => EnforcementPlan.Compile(ConfigLoader.Parse(rules, "t.toml").Config!, BackendKind.Nftables);
}
