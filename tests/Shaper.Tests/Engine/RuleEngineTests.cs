using System.Net;
using Shaper.Engine;
using Shaper.Limiting;
using Shaper.Packets;
using Shaper.Rules;

namespace Shaper.Tests.Engine;

public sealed class RuleEngineTests
{
    private const long Second = 1_000_000_000;

    private static Rule Bucket(string name, long perSecond, long burst, EnforceKind enforce = EnforceKind.Kernel) => new()
    {
        Name = name,
        Rate = new RateSpec(Rate.PerSecondOf(perSecond), RateUnit.Packets, $"{perSecond}/s"),
        Burst = burst,
        Enforce = enforce,
    };

    private static PacketMeta Udp(uint src, long t) => new()
    {
        TimestampNs = t,
        Family = IpFamily.V4,
        Protocol = 17,
        Source = src,
        Destination = 0xC6120002,
        DestinationPort = 9000,
        IpLength = 64,
    };

    private static RuleReport Rule(RuleEngine engine, string name) => engine.Report(0).Single(r => r.Name == name);

    [Fact]
    public void KeyTables_StartingAtInitialKeysPerRule_GrowWithTheKeysAndDecideAsFullSizedOnes()
    {
        // An observe rule over 10,000 sources, three packets each within a millisecond against a burst of 2: the
        // daemon's engine (tables of InitialKeysPerRule keys, growing) against one whose tables are fixed at the maximum.
        const int MaxKeys = 262_144;
        var config = new ShaperConfig { Rules = [Bucket("r", 1, 2, EnforceKind.Observe) with { Action = RuleAction.Log }] };
        var grown = new RuleEngine(CompiledRuleSet.Compile(config), MaxKeys, RuleEngine.InitialKeysPerRule);
        var fixedSize = new RuleEngine(CompiledRuleSet.Compile(config), MaxKeys);
        void Send(int sources, int round)
        {
            for (var i = 0; i < sources; i++)
            {
                var packet = Udp(0xC6120000 + (uint)i, (round * 1000) + i);
                grown.Process(packet);
                fixedSize.Process(packet);
            }
        }

        Send(100, 0);
        Assert.Equal(100, Rule(grown, "r").KeysTracked);
        Assert.True(grown.KeyTableBytes * 32 < fixedSize.KeyTableBytes, $"{grown.KeyTableBytes} bytes against {fixedSize.KeyTableBytes}");

        for (var round = 0; round < 3; round++)
        {
            Send(10_000, round);
        }

        var (a, b) = (Rule(grown, "r"), Rule(fixedSize, "r"));
        Assert.Equal((10_000, 0L), (a.KeysTracked, a.Evictions));
        Assert.Equal((b.Passed, b.Limited), (a.Passed, a.Limited));
        Assert.Equal((20_000L, 10_100L), (a.Passed, a.Limited));
        Assert.True(grown.KeyTableBytes * 8 < fixedSize.KeyTableBytes, $"{grown.KeyTableBytes} bytes against {fixedSize.KeyTableBytes}");
    }

    [Fact]
    public void Process_AllowedSource_IsNeverLimited()
    {
        var config = new ShaperConfig { Allow = [IPNetwork.Parse("198.18.9.0/24")], Rules = [Bucket("r", 1, 1)] };
        var engine = new RuleEngine(CompiledRuleSet.Compile(config), 1024);
        for (var i = 0; i < 10; i++)
        {
            engine.Process(Udp(0xC6120901, 0));
        }

        Assert.Equal(10, engine.Allowed);
        Assert.Equal(0, Rule(engine, "r").Passed + Rule(engine, "r").Limited);
    }

    [Fact]
    public void Process_HardKernelRuleLimits_LaterRulesDoNotSeeThePacket()
    {
        var config = new ShaperConfig { Rules = [Bucket("first", 1, 2), Bucket("second", 1000, 1000)] };
        var engine = new RuleEngine(CompiledRuleSet.Compile(config), 1024);
        for (var i = 0; i < 5; i++)
        {
            engine.Process(Udp(0xC6120101, 0));
        }

        // The first rule passes its burst of 2 and drops 3; only the 2 it passed reach the second.
        Assert.Equal((2, 3), (Rule(engine, "first").Passed, Rule(engine, "first").Limited));
        Assert.Equal(2, Rule(engine, "second").Passed);
    }

    [Fact]
    public void Process_ObserveRuleLimits_LaterRulesStillSeeThePacket()
    {
        // A logging observe rule stops nothing: its limited packets have passed the kernel.
        var config = new ShaperConfig { Rules = [Bucket("first", 1, 2, EnforceKind.Observe) with { Action = RuleAction.Log }, Bucket("second", 1000, 1000)] };
        var engine = new RuleEngine(CompiledRuleSet.Compile(config), 1024);
        for (var i = 0; i < 5; i++)
        {
            engine.Process(Udp(0xC6120101, 0));
        }

        Assert.Equal(5, Rule(engine, "second").Passed);
    }

    [Fact]
    public void Process_ObserveDropRuleLimits_TheKeysPacketsPastTheLimitMeetTheDropSet()
    {
        // The packet that empties the bucket holds the key (the next would be refused); the ones after it meet the set.
        var config = new ShaperConfig { Rules = [Bucket("first", 1, 2, EnforceKind.Observe), Bucket("second", 1000, 1000)] };
        var engine = new RuleEngine(CompiledRuleSet.Compile(config), 1024);
        for (var i = 0; i < 5; i++)
        {
            engine.Process(Udp(0xC6120101, 0));
        }

        Assert.Equal(2, Rule(engine, "second").Passed);
        Assert.Equal(3, engine.Held);
    }

    [Fact]
    public void Process_BlockAction_DropsTheSourceForBlockForThenLetsItBack()
    {
        var rule = Bucket("blocker", 1, 2, EnforceKind.Observe) with { Action = RuleAction.Block, BlockFor = TimeSpan.FromSeconds(5) };
        var engine = new RuleEngine(CompiledRuleSet.Compile(new ShaperConfig { Rules = [rule] }), 1024);
        var blocked = new List<UInt128>();
        engine.KeyBlocked += (_, _, key, _, _, _) => blocked.Add(key);

        engine.Process(Udp(0xC6120101, 0));
        engine.Process(Udp(0xC6120101, 0));
        engine.Process(Udp(0xC6120101, 0)); // over the burst: blocked until t = 5 s
        engine.Process(Udp(0xC6120101, (5 * Second) - 1)); // still blocked
        engine.Process(Udp(0xC6120101, 5 * Second)); // the block has expired; the bucket refilled

        Assert.Equal([(UInt128)0xC6120101], blocked);
        Assert.Equal(1, engine.Blocked);
        var report = Rule(engine, "blocker");
        Assert.Equal((3, 2), (report.Passed, report.Limited));
        Assert.Equal(2u, report.Keys.Single().Counters.Limited);
    }

    [Fact]
    public void Process_BlockBySourcePrefix_BlocksTheWholePrefix()
    {
        var rule = Bucket("blocker", 1, 1, EnforceKind.Observe) with
        {
            Action = RuleAction.Block,
            BlockFor = TimeSpan.FromSeconds(5),
            Per = new KeyScope(KeyKind.Source, 24, 64),
        };
        var engine = new RuleEngine(CompiledRuleSet.Compile(new ShaperConfig { Rules = [rule] }), 1024);
        var blocked = new List<(UInt128 Key, int Prefix)>();
        engine.KeyBlocked += (_, _, key, prefix, _, _) => blocked.Add((key, prefix));

        engine.Process(Udp(0xC6120105, 0));
        engine.Process(Udp(0xC61201F0, 0)); // the same /24: its second packet crosses the bucket of 1
        engine.Process(Udp(0xC6120177, 1)); // another address of the /24: dropped by the block before any rule

        Assert.Equal([((UInt128)0xC6120100, 24)], blocked); // 198.18.1.0/24, not one host
        Assert.Equal(1, engine.Blocked);
    }

    [Fact]
    public void New_BlockingRule_RehearsalLeavesNoBlockBehind()
    {
        // The constructor runs the block path once (for the JIT) before anyone listens: address 0 of each family.
        var rule = Bucket("blocker", 1, 2, EnforceKind.Observe) with { Action = RuleAction.Block, BlockFor = TimeSpan.FromSeconds(5) };
        var engine = new RuleEngine(CompiledRuleSet.Compile(new ShaperConfig { Rules = [rule] }), 1024);
        var blocked = 0;
        engine.KeyBlocked += (_, _, _, _, _, _) => blocked++;

        Assert.Equal(0, engine.BlocksTracked);
        engine.Process(Udp(0, 0));
        engine.Process(Udp(0, 0));
        Assert.Equal((0L, 0), (engine.Blocked, blocked)); // 0.0.0.0 passes as any source would, within the burst
        Assert.Equal(2, Rule(engine, "blocker").Passed);
    }

    [Fact]
    public void Process_MoreOffendersThanTheTableHolds_BlocksStayBoundedAndEndedOnesMakeRoom()
    {
        var rule = Bucket("blocker", 1, 1, EnforceKind.Observe) with { Action = RuleAction.Block, BlockFor = TimeSpan.FromSeconds(5) };
        var engine = new RuleEngine(CompiledRuleSet.Compile(new ShaperConfig { Rules = [rule] }), 4);
        var blocked = 0;
        engine.KeyBlocked += (_, _, _, _, _, _) => blocked++;

        // 10 sources each cross at t = 0: all are blocked (the kernel set holds them), the engine remembers 4.
        for (var s = 0u; s < 10; s++)
        {
            engine.Process(Udp(0xC6120100 + s, 0));
            engine.Process(Udp(0xC6120100 + s, 0));
        }

        Assert.Equal(10, blocked);
        Assert.Equal(4, engine.BlocksTracked);

        // After block_for, a new offender's block sweeps the ended ones and is remembered.
        engine.Process(Udp(0xC6120200, 6 * Second));
        engine.Process(Udp(0xC6120200, 6 * Second));
        Assert.Equal(11, blocked);
        Assert.Equal(1, engine.BlocksTracked);
    }

    [Fact]
    public void Process_SoftMode_CountsLimitedButNeverStopsLaterRules()
    {
        var config = new ShaperConfig { Rules = [Bucket("soft", 1, 1) with { Mode = RuleMode.Soft }, Bucket("after", 1000, 1000)] };
        var engine = new RuleEngine(CompiledRuleSet.Compile(config), 1024);
        for (var i = 0; i < 4; i++)
        {
            engine.Process(Udp(0xC6120101, 0));
        }

        Assert.Equal(3, Rule(engine, "soft").Limited);
        Assert.Equal(4, Rule(engine, "after").Passed);
    }

    [Fact]
    public void Process_PerSourcePrefix_SharesOneBucketAcrossTheSlash24()
    {
        var rule = Bucket("prefix", 1, 3) with { Per = new KeyScope(KeyKind.Source, 24, 64) };
        var engine = new RuleEngine(CompiledRuleSet.Compile(new ShaperConfig { Rules = [rule] }), 1024);
        for (uint host = 1; host <= 5; host++)
        {
            engine.Process(Udp(0xC6120100 + host, 0));
        }

        var report = Rule(engine, "prefix");
        Assert.Equal((3, 2), (report.Passed, report.Limited));
        Assert.Equal("198.18.1.0/24", report.Keys.Single().Key);
    }

    [Fact]
    public void Process_BytesRate_CostsTheIpLength()
    {
        var rule = Bucket("bytes", 1000, 1000) with { Rate = new RateSpec(Rate.PerSecondOf(1000), RateUnit.Bytes, "1000 bytes/s") };
        var engine = new RuleEngine(CompiledRuleSet.Compile(new ShaperConfig { Rules = [rule] }), 1024);
        for (var i = 0; i < 20; i++)
        {
            engine.Process(Udp(0xC6120101, 0)); // 64 bytes each: 15 fit in 1000
        }

        Assert.Equal((15, 5), (Rule(engine, "bytes").Passed, Rule(engine, "bytes").Limited));
    }
}
