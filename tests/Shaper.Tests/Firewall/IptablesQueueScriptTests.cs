using Shaper.Firewall;
using Shaper.Plan;
using Shaper.Tests.Rules;

namespace Shaper.Tests.Firewall;

/// <summary>The queue rules' iptables chain, as text: no kernel needed.</summary>
public sealed class IptablesQueueScriptTests
{
    private static EnforcementPlan Plan(string rules) =>
        EnforcementPlan.Compile(ConfigText.Load("[daemon]\nqueue_num = 7\n[[allow]]\ncidr = [\"198.18.9.0/24\"]\n" + rules).Config!, Shaper.Rules.BackendKind.Nftables);

    private const string TwoQueues = """
        [[rule]]
        name = "q1"
        match = { proto = "udp", dport = [9000] }
        algorithm = "leaky_bucket"
        rate = "50/s"
        queue = 25
        enforce = "queue"
        [[rule]]
        name = "q2"
        match = { proto = "tcp", src = ["2001:db8::/32"] }
        algorithm = "leaky_bucket"
        rate = "5/s"
        queue = 5
        enforce = "queue"
        """;

    [Fact]
    public void Apply_TwoQueueRules_EachToItsOwnQueueWithBypassAfterTheAllowList()
    {
        var v4 = IptablesQueueScript.Apply(Plan(TwoQueues), v4: true, save: "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n");

        Assert.Equal(
            "*filter\n:SHAPER-QUEUE - [0:0]\n-A SHAPER-QUEUE -s 198.18.9.0/24 -j RETURN\n"
            + "-A SHAPER-QUEUE -p udp -m multiport --dports 9000 -m comment --comment \"shaper:q1:queue\" -j NFQUEUE --queue-num 7 --queue-bypass\n"
            + "-I INPUT 1 -j SHAPER-QUEUE\nCOMMIT\n",
            v4);
        var v6 = IptablesQueueScript.Apply(Plan(TwoQueues), v4: false, save: "");
        Assert.Contains("-A SHAPER-QUEUE -s 2001:db8::/32 -p tcp -m comment --comment \"shaper:q2:queue\" -j NFQUEUE --queue-num 8 --queue-bypass\n", v6, StringComparison.Ordinal);
        Assert.Contains("shaper:q1:queue", v6, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_TwoQueuesPerRule_HmarkOnTheKeysPrefixThenOneMarkedLinePerQueue()
    {
        var plan = EnforcementPlan.Compile(ConfigText.Load("[daemon]\nqueue_num = 7\nqueues = 2\n" + TwoQueues.Replace("queue = 5\n", "queue = 5\nper = \"src/64\"\n", StringComparison.Ordinal)).Config!, Shaper.Rules.BackendKind.Nftables);
        Assert.Equal([(7, 2), (9, 2)], plan.QueueRules.Select(q => (q.Number, q.Queues)));

        var v4 = IptablesQueueScript.Apply(plan, v4: true, save: "");
        Assert.Contains(
            "-A SHAPER-QUEUE -p udp -m multiport --dports 9000 -m comment --comment \"shaper:q1:queue\" -j HMARK --hmark-src-prefix 32 --hmark-rnd 0x5348 --hmark-mod 2 --hmark-offset 1397293063\n"
            + "-A SHAPER-QUEUE -p udp -m multiport --dports 9000 -m mark --mark 0x53490007 -m comment --comment \"shaper:q1:queue\" -j NFQUEUE --queue-num 7 --queue-bypass\n"
            + "-A SHAPER-QUEUE -p udp -m multiport --dports 9000 -m mark --mark 0x53490008 -m comment --comment \"shaper:q1:queue\" -j NFQUEUE --queue-num 8 --queue-bypass\n",
            v4);

        // per = "src/64": IPv6 sources hashed by their /64, so a /64's addresses share one queue as they share one key.
        var v6 = IptablesQueueScript.Apply(plan, v4: false, save: "");
        Assert.Contains("-j HMARK --hmark-src-prefix 64 --hmark-rnd 0x5348 --hmark-mod 2 --hmark-offset 1397293065\n", v6, StringComparison.Ordinal);
        Assert.Contains("-m mark --mark 0x5349000a -m comment --comment \"shaper:q2:queue\" -j NFQUEUE --queue-num 10 --queue-bypass\n", v6, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("dst", "--hmark-dst-prefix 32")] // the key is the destination: hashed alone
    [InlineData("src+dport", "--hmark-src-prefix 32")] // all of a source's ports on one queue keeps each (source, port) key on one
    [InlineData("src/24", "--hmark-src-prefix 24")] // a /24 is one key: one queue
    public void Apply_TwoQueuesPerRule_HashesTheKeysAddressOnly(string per, string hash)
    {
        var plan = EnforcementPlan.Compile(ConfigText.Load($"[daemon]\nqueues = 2\n[[rule]]\nname = \"q\"\nmatch = {{ proto = \"udp\" }}\nper = \"{per}\"\nalgorithm = \"leaky_bucket\"\nrate = \"5/s\"\nqueue = 5\nenforce = \"queue\"\n").Config!, Shaper.Rules.BackendKind.Nftables);
        Assert.Contains($"-j HMARK {hash} --hmark-rnd", IptablesQueueScript.Apply(plan, v4: true, save: ""), StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_TwoQueuesPerRuleWithOneKey_OneQueue()
    {
        // per = "rule" is one bucket: it cannot be shared among queues, so the rule has one.
        var plan = EnforcementPlan.Compile(ConfigText.Load("[daemon]\nqueues = 4\n[[rule]]\nname = \"q\"\nmatch = { proto = \"udp\" }\nper = \"rule\"\nalgorithm = \"leaky_bucket\"\nrate = \"5/s\"\nqueue = 5\nenforce = \"queue\"\n").Config!, Shaper.Rules.BackendKind.Nftables);
        Assert.Equal(1, plan.QueueRules.Single().Queues);
        var v4 = IptablesQueueScript.Apply(plan, v4: true, save: "");
        Assert.DoesNotContain("HMARK", v4, StringComparison.Ordinal);
        Assert.Contains("-j NFQUEUE --queue-num 1000 --queue-bypass\n", v4, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_RejectingQueueRule_MarkedPacketsRejectedFirstInEachFamily()
    {
        var rules = TwoQueues.Replace("enforce = \"queue\"\n[[rule]]", "enforce = \"queue\"\naction = \"reject\"\n[[rule]]", StringComparison.Ordinal);
        var v4 = IptablesQueueScript.Apply(Plan(rules), v4: true, save: "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n");

        Assert.StartsWith(
            "*filter\n:SHAPER-QUEUE - [0:0]\n"
            + "-A SHAPER-QUEUE -p tcp -m mark --mark 0x53480001 -j REJECT --reject-with tcp-reset\n"
            + "-A SHAPER-QUEUE -m mark --mark 0x53480001 -j REJECT --reject-with icmp-port-unreachable\n"
            + "-A SHAPER-QUEUE -s 198.18.9.0/24 -j RETURN\n",
            v4);
        Assert.Contains("-m mark --mark 0x53480001 -j REJECT --reject-with icmp6-port-unreachable\n", IptablesQueueScript.Apply(Plan(rules), v4: false, save: ""), StringComparison.Ordinal);

        // Dropping rules alone: no reject rules.
        Assert.DoesNotContain("REJECT", IptablesQueueScript.Apply(Plan(TwoQueues), v4: true, save: ""), StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_BackendJumpInInput_QueueJumpGoesRightAfterIt()
    {
        // An accepted packet skips the rest of INPUT: the kernel rules' chain must come first.
        var save = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -j SHAPER-INPUT\n-A INPUT -j DROP\nCOMMIT\n";
        Assert.Contains("-I INPUT 3 -j SHAPER-QUEUE\n", IptablesQueueScript.Apply(Plan(TwoQueues), v4: true, save), StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_JumpAlreadyThere_NotAddedTwice()
    {
        var save = "*filter\n:SHAPER-QUEUE - [0:0]\n-A INPUT -j SHAPER-QUEUE\nCOMMIT\n";
        Assert.DoesNotContain("-I INPUT", IptablesQueueScript.Apply(Plan(TwoQueues), v4: true, save), StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_NoQueueRulesLeft_TakesTheChainOut()
    {
        var save = "*filter\n:SHAPER-QUEUE - [0:0]\n-A INPUT -j SHAPER-QUEUE\n-A SHAPER-QUEUE -j NFQUEUE --queue-num 7 --queue-bypass\nCOMMIT\n";
        Assert.Equal("*filter\n-D INPUT -j SHAPER-QUEUE\n-F SHAPER-QUEUE\n-X SHAPER-QUEUE\nCOMMIT\n", IptablesQueueScript.Apply(Plan(""), v4: true, save));
        Assert.Equal("", IptablesQueueScript.Apply(Plan(""), v4: true, "*filter\nCOMMIT\n"));
    }

    [Fact]
    public void Owned_QueueChain_IsNotTheIptablesBackendsToRemove()
    {
        var (chains, _) = IptablesScript.Owned("*filter\n:SHAPER-INPUT - [0:0]\n:SHAPER-QUEUE - [0:0]\nCOMMIT\n");
        Assert.Equal(["SHAPER-INPUT"], chains);
    }
}
