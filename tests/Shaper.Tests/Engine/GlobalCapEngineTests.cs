using Shaper.Engine;
using Shaper.Firewall;
using Shaper.Limiting;
using Shaper.Packets;
using Shaper.Plan;
using Shaper.Rules;

namespace Shaper.Tests.Engine;

/// <summary>
/// The <c>[global]</c> cap in the engine: one bucket every rule's matched packets draw from before the rule's own
/// limit, as the kernel's named limit <c>l_global</c>; a hard rule's packet over it is gone, a soft rule's counted.
/// </summary>
public sealed class GlobalCapEngineTests
{
    private const long Second = 1_000_000_000;

    private static readonly GlobalLimit TenPerSecondBurstFive = new(new RateSpec(Rate.PerSecondOf(10), RateUnit.Packets, "10/s"), 5);

    private static Rule Wide(string name, ushort dport, RuleMode mode = RuleMode.Hard) => new()
    {
        Name = name,
        Match = new RuleMatch { Proto = Protocol.Udp, Dport = [new PortRange(dport, dport)] },
        Rate = new RateSpec(Rate.PerSecondOf(1000), RateUnit.Packets, "1000/s"),
        Burst = 1000,
        Enforce = EnforceKind.Observe,
        Action = RuleAction.Log,
        Mode = mode,
    };

    private static PacketMeta Udp(long t, ushort dport, int length = 64) => new()
    {
        TimestampNs = t,
        Family = IpFamily.V4,
        Protocol = 17,
        Source = 0xC6120101,
        Destination = 0xC6120002,
        DestinationPort = dport,
        IpLength = length,
    };

    private static ShaperConfig Config(GlobalLimit? global, params Rule[] rules) => new() { Global = global, Rules = rules };

    private static RuleReport Report(RuleEngine engine, string name) => engine.Report(0).Single(r => r.Name == name);

    [Fact]
    public void Process_TwoRulesUnderOneCap_ShareOneBucketAndDropOverItBeforeTheirOwnLimit()
    {
        var engine = new RuleEngine(CompiledRuleSet.Compile(Config(TenPerSecondBurstFive, Wide("a", 9000), Wide("b", 9001))), 1024);

        // 20 packets at once, alternating between the rules: the bucket's 5 pass, 15 are over it.
        for (var i = 0; i < 20; i++)
        {
            engine.Process(Udp(0, (ushort)(9000 + (i % 2))));
        }

        Assert.Equal(15, engine.GlobalLimited);
        Assert.Equal(5, Report(engine, "a").Passed + Report(engine, "b").Passed);
        Assert.Equal(0, Report(engine, "a").Limited + Report(engine, "b").Limited); // the cap's drops are not the rules'

        // One second refills 10 tokens (the bucket holds 5): 5 of the next 20 pass.
        for (var i = 0; i < 20; i++)
        {
            engine.Process(Udp(Second, 9000));
        }

        Assert.Equal(30, engine.GlobalLimited);
        Assert.Equal(10, Report(engine, "a").Passed + Report(engine, "b").Passed);
    }

    [Fact]
    public void Process_NoGlobal_NothingCapped()
    {
        var engine = new RuleEngine(CompiledRuleSet.Compile(Config(null, Wide("a", 9000))), 1024);

        for (var i = 0; i < 20; i++)
        {
            engine.Process(Udp(0, 9000));
        }

        Assert.Equal(0, engine.GlobalLimited);
        Assert.Equal(20, Report(engine, "a").Passed);
    }

    [Fact]
    public void Process_SoftRuleOverTheCap_CountedAndGoesOnToItsOwnLimit()
    {
        var engine = new RuleEngine(CompiledRuleSet.Compile(Config(TenPerSecondBurstFive, Wide("soft", 9000, RuleMode.Soft))), 1024);

        for (var i = 0; i < 20; i++)
        {
            engine.Process(Udp(0, 9000));
        }

        Assert.Equal(15, engine.GlobalLimited);
        Assert.Equal(20, Report(engine, "soft").Passed);
    }

    [Fact]
    public void Process_ByteCap_EachPacketCostsItsBytes()
    {
        var bytes = new GlobalLimit(new RateSpec(Rate.PerSecondOf(1000), RateUnit.Bytes, "1000 bytes/s"), 1500);
        var engine = new RuleEngine(CompiledRuleSet.Compile(Config(bytes, Wide("a", 9000))), 1024);

        for (var i = 0; i < 20; i++)
        {
            engine.Process(Udp(0, 9000, length: 100)); // 15 × 100 bytes fill the 1500-byte bucket
        }

        Assert.Equal(5, engine.GlobalLimited);
    }

    [Fact]
    public void Process_TwoEnginesOfOneRuleSet_ShareTheCapAsTheKernelsOneLimit()
    {
        // The capture threads each run an engine over one compiled set: the cap is the host's, not a thread's.
        var rules = CompiledRuleSet.Compile(Config(TenPerSecondBurstFive, Wide("a", 9000)));
        var lane0 = new RuleEngine(rules, 1024);
        var lane1 = new RuleEngine(rules, 1024);

        for (var i = 0; i < 4; i++)
        {
            lane0.Process(Udp(0, 9000));
            lane1.Process(Udp(0, 9000));
        }

        Assert.Equal(3, lane0.GlobalLimited + lane1.GlobalLimited);
    }

    [Theory]
    [InlineData("10/s", 5, 0)] // the same cap: the reload keeps the drained bucket, so nothing passes
    [InlineData("10/s", 6, 6)] // a changed burst: a fresh bucket, as the kernel writes a new l_global
    public void Reload_Cap_KeptWhenUnchanged(string rate, long burst, long passedAfter)
    {
        var before = new RuleEngine(CompiledRuleSet.Compile(Config(TenPerSecondBurstFive, Wide("a", 9000))), 1024);
        for (var i = 0; i < 5; i++)
        {
            before.Process(Udp(0, 9000));
        }

        var cap = new GlobalLimit(new RateSpec(Rate.PerSecondOf(long.Parse(rate[..^2], System.Globalization.CultureInfo.InvariantCulture)), RateUnit.Packets, rate), burst);
        var after = new RuleEngine(CompiledRuleSet.Compile(Config(cap, Wide("a", 9000))), 1024, previous: before);
        for (var i = 0; i < 10; i++)
        {
            after.Process(Udp(0, 9000));
        }

        Assert.Equal(passedAfter, 10 - after.GlobalLimited);
    }

    [Fact]
    public void Plan_ObservedRules_CarryThePlansCapAndTheKernelHoldsThemToIt()
    {
        const string Toml = """
            [daemon]
            interface = "eth0"
            [global]
            rate = "100/s"
            burst = 50
            [[rule]]
            name = "obs"
            match = { proto = "udp", dport = [9000] }
            algorithm = "sliding_log"
            limit = 30
            window = "1s"
            enforce = "observe"
            action = "log"
            [[rule]]
            name = "dry"
            match = { proto = "udp", dport = [9001] }
            algorithm = "sliding_log"
            limit = 30
            window = "1s"
            enforce = "observe"
            mode = "soft"
            """;
        var plan = EnforcementPlan.Compile(ConfigLoader.Parse(Toml, "t.toml").Config!, BackendKind.Nftables);

        Assert.NotNull(plan.Global);
        Assert.Same(plan.Global, plan.Observed.Cap);
        var script = NftScript.Apply(plan, new Dictionary<string, string>(), []).Script;
        Assert.Contains("th dport { 9000 } limit name \"l_global\" counter name \"c_global_limited\" drop\n", script, StringComparison.Ordinal); // obs: hard
        Assert.Contains("th dport { 9001 } limit name \"l_global\" counter name \"c_global_limited\"\n", script, StringComparison.Ordinal); // dry: counted only
        var iptables = IptablesScript.Apply(EnforcementPlan.Compile(ConfigLoader.Parse(Toml.Replace("interface = \"eth0\"", "interface = \"eth0\"\nbackend = \"iptables\"", StringComparison.Ordinal), "t.toml").Config!, BackendKind.Iptables), true, [], [], addJump: true);
        Assert.Equal(2, iptables.Split('\n').Count(l => l.Contains("shaper:global:limited", StringComparison.Ordinal)));
    }
}
