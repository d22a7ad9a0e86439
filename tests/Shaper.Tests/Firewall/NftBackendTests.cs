using System.Net;
using Shaper.Firewall;
using Shaper.Plan;
using Shaper.Rules;

namespace Shaper.Tests.Firewall;

/// <summary>The nftables backend over a recording fake nft (no netlink): what it runs, in what order, and what it keeps. No root needed.</summary>
public sealed class NftBackendTests
{
    private const string Rule = "[[rule]]\nname = \"r\"\nmatch = { proto = \"udp\", dport = [9000] }\nrate = \"10/s\"\nburst = 5\n";

    [Fact]
    public void Apply_OneTransactionWithoutADryRun()
    {
        var nft = new RecordingNft();
        var backend = new NftBackend(nft);
        var plan = Plan(Rule);

        Assert.Null(backend.Apply(plan));

        // No nft -c first: its abort holds nf_tables' commit mutex through an RCU grace period, and holds and blocks wait.
        var run = Assert.Single(nft.Runs);
        Assert.False(run.Check);
        Assert.StartsWith("add table inet shaper\n", run.Script, StringComparison.Ordinal);
        Assert.Same(plan, backend.Applied);
    }

    [Fact]
    public void Reload_SameRules_TouchesNoKernelUnlessTheyChangedOrTheTableWentAway()
    {
        var nft = new RecordingNft();
        var backend = new NftBackend(nft);
        Assert.Null(backend.Apply(Plan(Rule)));
        nft.Runs.Clear();

        var same = Plan(Rule);
        Assert.Null(backend.Reload(same)); // nothing to write: no transaction
        Assert.Empty(nft.Runs);
        Assert.Same(same, backend.Applied);

        Assert.Null(backend.Reload(Plan(Rule.Replace("10/s", "20/s", StringComparison.Ordinal))));
        Assert.Single(nft.Runs);

        nft.Runs.Clear();
        Assert.Null(backend.Reinstall()); // the table was flushed: everything is written again
        Assert.Null(backend.Reload(Plan(Rule.Replace("10/s", "20/s", StringComparison.Ordinal))));
        Assert.Single(nft.Runs);
        Assert.Null(backend.Repair()); // a repair always writes
        Assert.Equal(2, nft.Runs.Count);
    }

    [Fact]
    public void Apply_Refused_TheOldPlanStaysAndTheNextApplyStartsFromIt()
    {
        var nft = new RecordingNft();
        var backend = new NftBackend(nft);
        var old = Plan(Rule);
        Assert.Null(backend.Apply(old));
        nft.Runs.Clear();
        nft.Answers.Enqueue(new NftResult(false, "", "Error: Could not process rule: No such file or directory\nadd rule ...\n^^^"));

        var error = backend.Apply(Plan(Rule.Replace("10/s", "1/minute", StringComparison.Ordinal)));

        Assert.Equal("nft refused the ruleset: Error: Could not process rule: No such file or directory", error);
        Assert.Single(nft.Runs); // a refusal is final: not tried again
        Assert.Same(old, backend.Applied);

        // The kernel took none of it: the next apply is computed against the old objects, none deleted.
        nft.Runs.Clear();
        Assert.Null(backend.Apply(old));
        Assert.DoesNotContain("\ndelete ", nft.Runs[0].Script, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_BusyKernel_TriedAgain()
    {
        var nft = new RecordingNft();
        nft.Answers.Enqueue(new NftResult(false, "", "Error: Could not process rule: Device or resource busy"));

        Assert.Null(new NftBackend(nft).Apply(Plan(Rule)));

        Assert.Equal(2, nft.Runs.Count);
        Assert.Equal(nft.Runs[0].Script, nft.Runs[1].Script);
    }

    [Fact]
    public void Adopt_EarlierTable_KeepsItsBlockSetsAndRecreatesWhatItCannotKnow()
    {
        var nft = new RecordingNft
        {
            Output = """
                table inet shaper {
                	set block_v4 {
                		type ipv4_addr
                	}
                	set block_v4_p24 {
                		type ipv4_addr
                	}
                	set m_old_v4 {
                		type ipv4_addr
                	}
                	counter c_old_matched {
                		packets 3 bytes 90
                	}
                }
                """,
        };
        var backend = new NftBackend(nft);

        Assert.True(backend.Adopt());
        Assert.Equal("list table inet shaper\n", nft.Runs[0].Script);
        Assert.Equal([new BlockSet(true, 24)], backend.PrefixSets);

        Assert.Null(backend.Apply(Plan(Rule)));
        var script = nft.Runs[^1].Script;
        Assert.Contains("delete set inet shaper m_old_v4\n", script, StringComparison.Ordinal);
        Assert.Contains("delete counter inet shaper c_old_matched\n", script, StringComparison.Ordinal);
        Assert.DoesNotContain("delete set inet shaper block_v4", script, StringComparison.Ordinal); // the blocks stay
        Assert.Contains("add set inet shaper block_v4_p24 ", script, StringComparison.Ordinal);
    }

    [Fact]
    public void Adopt_NoTable_False()
    {
        var nft = new RecordingNft();
        nft.Answers.Enqueue(new NftResult(false, "", "Error: No such file or directory"));

        Assert.False(new NftBackend(nft).Adopt());
    }

    [Fact]
    public void AddBlocks_NewPrefixLength_AddsItsSetByApplyingAgainThenTheElements()
    {
        var nft = new RecordingNft();
        var backend = new NftBackend(nft);
        Assert.Null(backend.Apply(Plan(Rule)));
        nft.Runs.Clear();

        Assert.Null(backend.AddBlocks([(IPNetwork.Parse("198.18.7.0/24"), TimeSpan.FromMinutes(10)), (IPNetwork.Parse("198.18.0.1/32"), TimeSpan.FromSeconds(1.5))]));

        Assert.Equal(2, nft.Runs.Count); // the apply with the new set, then the elements
        Assert.Contains("add set inet shaper block_v4_p24 ", nft.Runs[0].Script, StringComparison.Ordinal);
        Assert.Contains("ip saddr & 255.255.255.0 @block_v4_p24 drop", nft.Runs[0].Script, StringComparison.Ordinal);
        Assert.Equal(
            "add element inet shaper block_v4_p24 { 198.18.7.0 timeout 600000ms }\nadd element inet shaper block_v4 { 198.18.0.1 timeout 1500ms }\n",
            nft.Runs[1].Script);

        // The same prefix length again needs no apply.
        nft.Runs.Clear();
        Assert.Null(backend.AddBlocks([(IPNetwork.Parse("198.18.8.0/24"), TimeSpan.FromMinutes(1))]));
        Assert.Single(nft.Runs);
    }

    [Fact]
    public void RemoveBlock_AlreadyExpired_IsNoError()
    {
        var nft = new RecordingNft();
        nft.Answers.Enqueue(new NftResult(false, "", "Error: Could not process rule: No such file or directory"));
        nft.Answers.Enqueue(new NftResult(false, "", "Error: Could not process rule: Operation not permitted"));
        var backend = new NftBackend(nft);

        Assert.Null(backend.RemoveBlock(IPNetwork.Parse("2001:db8::7/128")));
        Assert.Equal("delete element inet shaper block_v6 { 2001:db8::7 }\n", nft.Runs[0].Script);
        Assert.Equal("Error: Could not process rule: Operation not permitted", backend.RemoveBlock(IPNetwork.Parse("2001:db8::7/128")));
    }

    [Fact]
    public void RuleCounters_FromListCounters_MatchedLessLimitedPassed()
    {
        var nft = new RecordingNft();
        var backend = new NftBackend(nft);
        Assert.Null(backend.Apply(Plan(Rule)));
        nft.Output = """
            table inet shaper {
            	counter c_r_matched {
            		packets 30 bytes 900
            	}
            	counter c_r_limited {
            		packets 25 bytes 750
            	}
            }
            """;

        Assert.Equal([("r", 5L, 25L)], backend.RuleCounters());
        Assert.Equal("list counters table inet shaper\n", nft.Runs[^1].Script);
    }

    [Fact]
    public void Reinstall_AfterAFlush_CreatesEveryObjectAgain()
    {
        var nft = new RecordingNft();
        var backend = new NftBackend(nft);
        Assert.Null(backend.Apply(Plan(Rule)));
        nft.Runs.Clear();

        Assert.Null(backend.Reinstall());

        var script = nft.Runs[^1].Script;
        Assert.DoesNotContain("\ndelete ", script, StringComparison.Ordinal); // nothing is there to delete
        Assert.Contains("add set inet shaper m_r_v4 ", script, StringComparison.Ordinal);
        Assert.Contains("add counter inet shaper c_r_limited\n", script, StringComparison.Ordinal);
    }

    [Fact]
    public void Remove_DeletesTheTableAndForgetsThePlan()
    {
        var nft = new RecordingNft();
        var backend = new NftBackend(nft);
        Assert.Null(backend.Apply(Plan(Rule)));

        backend.Remove();

        Assert.Equal("delete table inet shaper\n", nft.Runs[^1].Script);
        Assert.Null(backend.Applied);
        Assert.Null(backend.Repair()); // nothing to repair to
        Assert.Equal("delete table inet shaper\n", nft.Runs[^1].Script);
    }

    [Fact]
    public void IsInstalled_WithoutNetlink_AsksNftForTheFixedChain()
    {
        var nft = new RecordingNft();
        nft.Answers.Enqueue(new NftResult(false, "", "Error: No such file or directory"));
        var backend = new NftBackend(nft);

        Assert.False(backend.IsInstalled());
        Assert.True(backend.IsInstalled());
        Assert.Equal("list chain inet shaper reject_any\n", nft.Runs[0].Script);
    }

    private static EnforcementPlan Plan(string rules) => EnforcementPlan.Compile(ConfigLoader.Parse(rules, "t.toml").Config!, BackendKind.Nftables);
}
