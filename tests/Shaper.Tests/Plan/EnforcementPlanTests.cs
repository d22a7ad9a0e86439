using Shaper.Plan;
using Shaper.Rules;

namespace Shaper.Tests.Plan;

/// <summary>The enforcement plan: each rule goes to exactly one enforcer, and every consumer reads that assignment.</summary>
public sealed class EnforcementPlanTests
{
    private const string Rules = """
        [daemon]
        interface = "eth0"

        [[rule]]
        name = "ssh"
        match = { proto = "tcp", dport = [22] }
        rate = "10/minute"
        burst = 5

        [[rule]]
        name = "dns"
        match = { proto = "udp", dport = [53] }
        algorithm = "sliding_log"
        limit = 30
        window = "1s"
        enforce = "observe"

        [[rule]]
        name = "icmp"
        match = { proto = "icmp" }
        rate = "5/s"
        burst = 5
        enforce = "observe"
        """;

    [Fact]
    public void Compile_MixedRules_EachRuleHasExactlyOneEnforcerInFileOrder()
    {
        var plan = EnforcementPlan.Compile(Load(Rules), BackendKind.Nftables);

        Assert.Equal(["ssh", "dns", "icmp"], plan.Rules.Select(r => r.Rule.Name));
        Assert.Equal([Enforcer.Kernel, Enforcer.Observe, Enforcer.Observe], plan.Rules.Select(r => r.Enforcer));
        Assert.Equal(["ssh"], plan.KernelRules.Select(r => r.Name));
        Assert.Equal(["dns", "icmp"], plan.ObservedRules.Select(r => r.Name));
        Assert.Equal(["dns", "icmp"], plan.Observed.Rules.Select(r => r.Rule.Name));
    }

    [Fact]
    public void Compile_ObservedRules_CaptureFilterCoversOnlyThem()
    {
        var plan = EnforcementPlan.Compile(Load(Rules), BackendKind.Nftables);

        Assert.Equal("(udp and (dst port 53)) or (icmp)", plan.CaptureFilter);
        Assert.True(plan.Captures);
    }

    [Fact]
    public void NftScript_Plan_WritesOnlyTheKernelRules()
    {
        var plan = EnforcementPlan.Compile(Load(Rules), BackendKind.Nftables);

        var (script, _) = Shaper.Firewall.NftScript.Apply(plan, new Dictionary<string, string>(), []);

        Assert.Contains("c_ssh_limited", script, StringComparison.Ordinal);
        Assert.DoesNotContain("c_dns_", script, StringComparison.Ordinal);
        Assert.DoesNotContain("c_icmp_", script, StringComparison.Ordinal);
    }

    [Fact]
    public void NftScript_GlobalWithObserveRulesOnly_HoldsTheirPacketsToTheCapInTheKernel()
    {
        // Captured packets have passed: only the kernel can hold an observe rule's packets to [global].
        var config = Load(Rules.Replace("rate = \"10/minute\"\nburst = 5", "algorithm = \"fixed_window\"\nlimit = 5\nwindow = \"1m\"\nenforce = \"observe\"", StringComparison.Ordinal) + "\n[global]\nrate = \"100/s\"\nburst = 100\n");
        var plan = EnforcementPlan.Compile(config, BackendKind.Nftables);

        Assert.Empty(plan.KernelRules);
        Assert.NotNull(plan.Global);
        Assert.Contains("limit name \"l_global\"", Shaper.Firewall.NftScript.Apply(plan, new Dictionary<string, string>(), []).Script, StringComparison.Ordinal);
    }

    [Fact]
    public void NftScript_GlobalWithNoRule_WritesNoGlobalLimit()
    {
        var plan = EnforcementPlan.Compile(Load("[global]\nrate = \"100/s\"\nburst = 100\n"), BackendKind.Nftables);

        Assert.Null(plan.Global);
        Assert.DoesNotContain("l_global", Shaper.Firewall.NftScript.Apply(plan, new Dictionary<string, string>(), []).Script, StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_RuleNoEnforcerCanCarry_Throws()
    {
        var config = Load(Rules) with { Daemon = new DaemonSettings { Interface = "" } };

        var error = Assert.Throws<InvalidOperationException>(() => EnforcementPlan.Compile(config, BackendKind.Nftables));

        Assert.Contains("[[rule]] 'dns' uses enforce = \"observe\" but [daemon] interface is \"\"", error.Message, StringComparison.Ordinal);
    }

    private static ShaperConfig Load(string text)
    {
        var loaded = ConfigLoader.Parse(text, "t.toml");
        Assert.False(loaded.HasErrors, string.Join("\n", loaded.Diagnostics));
        return loaded.Config!;
    }
}
