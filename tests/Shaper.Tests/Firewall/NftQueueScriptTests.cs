using System.IO.Compression;
using Shaper.Firewall;
using Shaper.Plan;
using Shaper.Tests.Lab;
using Shaper.Tests.Rules;

namespace Shaper.Tests.Firewall;

/// <summary>
/// The queue rules' chain with nft's queue statement, for kernels that have it: as text (no kernel needed), and as nft
/// reads it on this kernel, which lacks the statement (<c>CONFIG_NFT_QUEUE</c> not set), in a namespace lab.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class NftQueueScriptTests
{
    private const string Rules = """
        [daemon]
        queue_num = 7
        queues = 2
        [[allow]]
        cidr = ["198.18.9.0/24", "2001:db8:9::/48"]
        [[rule]]
        name = "q1"
        match = { proto = "udp", dport = [9000] }
        algorithm = "leaky_bucket"
        rate = "50/s"
        queue = 25
        enforce = "queue"
        action = "reject"
        [[rule]]
        name = "q2"
        match = { proto = "tcp", src = ["198.18.0.0/15"] }
        per = "src/24"
        algorithm = "leaky_bucket"
        rate = "5/s"
        queue = 5
        enforce = "queue"
        [[rule]]
        name = "q3"
        match = { proto = "icmp" }
        per = "rule"
        algorithm = "leaky_bucket"
        rate = "5/s"
        queue = 5
        enforce = "queue"
        """;

    private static EnforcementPlan Plan(string rules) => EnforcementPlan.Compile(ConfigText.Load(rules).Config!, Shaper.Rules.BackendKind.Nftables);

    [Fact]
    public void Apply_QueueRules_BaseChainAfterTheKernelRulesWithBypassAndAKeyHashPerRule()
    {
        Assert.Equal(
            "add chain inet shaper queue_in { type filter hook input priority 0; policy accept; }\n"
            + "flush chain inet shaper queue_in\n"
            + "add rule inet shaper queue_in meta mark 0x53480001 meta l4proto tcp reject with tcp reset\n"
            + "add rule inet shaper queue_in meta mark 0x53480001 reject with icmpx type port-unreachable\n"
            + "add rule inet shaper queue_in ip saddr { 198.18.9.0/24 } return\n"
            + "add rule inet shaper queue_in ip6 saddr { 2001:db8:9::/48 } return\n"
            + "add rule inet shaper queue_in meta nfproto ipv4 meta l4proto udp th dport { 9000 } queue flags bypass to jhash ip saddr mod 2 seed 0x5348 offset 7 comment \"shaper:q1:queue\"\n"
            + "add rule inet shaper queue_in meta nfproto ipv6 meta l4proto udp th dport { 9000 } queue flags bypass to jhash ip6 saddr mod 2 seed 0x5348 offset 7 comment \"shaper:q1:queue\"\n"
            + "add rule inet shaper queue_in meta nfproto ipv4 meta l4proto tcp ip saddr { 198.18.0.0/15 } queue flags bypass to jhash ip saddr and 255.255.255.0 mod 2 seed 0x5348 offset 9 comment \"shaper:q2:queue\"\n"
            + "add rule inet shaper queue_in meta nfproto ipv4 meta l4proto icmp queue num 11 bypass comment \"shaper:q3:queue\"\n",
            NftQueueScript.Apply(Plan(Rules), present: false));
    }

    [Fact]
    public void Apply_NoQueueRules_DeletesTheChainOnlyWhenItIsThere()
    {
        Assert.Equal("delete chain inet shaper queue_in\n", NftQueueScript.Apply(Plan(""), present: true));
        Assert.Equal("", NftQueueScript.Apply(Plan(""), present: false));
    }

    [Theory]
    [InlineData(true, "nftables", true)] // the statement is there and nft holds the kernel rules
    [InlineData(false, "nftables", false)] // this kernel: no statement, iptables' NFQUEUE target instead
    [InlineData(true, "iptables", false)] // the iptables backend keeps its queue rules in iptables too
    public void NftQueueUsable_ProbeAndBackend_DecideTheQueueRulesTool(bool probed, string backend, bool expected)
    {
        IReadOnlyList<Feature> features = [new Feature(FeatureProbe.NftQueue, probed, "", "")];
        Assert.Equal(expected, FeatureProbe.NftQueueUsable(features, backend == "nftables" ? Shaper.Rules.BackendKind.Nftables : Shaper.Rules.BackendKind.Iptables));
    }

    [Theory]
    [InlineData(false, false, 2, true)] // iptables without HMARK cannot keep a key on one of two queues: refused
    [InlineData(true, false, 2, false)] // HMARK is there
    [InlineData(false, true, 2, false)] // nft's queue statement hashes by itself
    [InlineData(false, false, 1, false)] // one queue per rule needs no hash
    public void QueuesRefusal_HmarkAndNftQueue_RefusedOnlyWhenNeitherCanShare(bool hmark, bool nftQueue, int queues, bool refused)
    {
        IReadOnlyList<Feature> features = [new Feature(FeatureProbe.Hmark, hmark, "", ""), new Feature(FeatureProbe.NftQueue, nftQueue, "", "")];
        var plan = Plan(Rules.Replace("queues = 2", $"queues = {queues}", StringComparison.Ordinal));
        var why = FeatureProbe.QueuesRefusal(features, plan);
        Assert.Equal(refused, why is not null);
        if (refused)
        {
            Assert.Equal("[daemon] queues = 2 needs the HMARK target to keep each key on one queue, and this kernel lacks it (shaperd --check: hmark missing); set queues = 1", why);
        }
    }

    [Fact]
    public void Compile_QueueNumbersPast65535_RefusedWithTheReason()
    {
        // Three queue rules of 16 queues from 65000: numbers up to 65047 fit; from 65500 they would reach 65547.
        var rules = Rules.Replace("queue_num = 7", "queue_num = 65000", StringComparison.Ordinal).Replace("queues = 2", "queues = 16", StringComparison.Ordinal);
        Assert.Equal(65032, Plan(rules).QueueRules[^1].Number);
        var config = ConfigText.Load(rules).Config!;
        var refused = Assert.Throws<InvalidOperationException>(() => EnforcementPlan.Compile(config with { Daemon = config.Daemon with { QueueNum = 65500 } }, Shaper.Rules.BackendKind.Nftables));
        Assert.Equal("[daemon] queue_num = 65500 with 3 queue rules of 16 queues each needs NFQUEUE numbers up to 65547, beyond 65535; lower queue_num or queues", refused.Message);
    }

    [RootFact]
    public void Apply_OnThisKernel_NftReadsEveryRuleAndOnlyTheKernelLacksTheQueue()
    {
        using var lab = NetworkLab.Create();
        var file = Path.GetTempFileName();
        File.WriteAllText(file, "add table inet shaper\n" + NftQueueScript.Apply(Plan(Rules), present: false));
        ProcessResult check;
        try
        {
            check = lab.Exec(lab.B, "nft", "--check", "-f", file);
        }
        finally
        {
            File.Delete(file);
        }

        if (KernelHasNftQueue())
        {
            Assert.True(check.ExitCode == 0, check.Error);
            return;
        }

        // Every line parses (no syntax error); the kernel refuses the queue expression it was built without.
        Assert.NotEqual(0, check.ExitCode);
        Assert.DoesNotContain("syntax error", check.Error, StringComparison.Ordinal);
        Assert.Contains("Could not process rule: No such file or directory", check.Error, StringComparison.Ordinal);
    }

    /// <summary>Whether this kernel was built with nft's queue expression, from its own configuration.</summary>
    internal static bool KernelHasNftQueue()
    {
        using var file = File.OpenRead("/proc/config.gz");
        using var text = new StreamReader(new GZipStream(file, CompressionMode.Decompress));
        return text.ReadToEnd().Contains("\nCONFIG_NFT_QUEUE=y", StringComparison.Ordinal);
    }
}
