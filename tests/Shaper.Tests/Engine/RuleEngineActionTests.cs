using System.Net;
using Shaper.Engine;
using Shaper.Limiting;
using Shaper.Packets;
using Shaper.Rules;

namespace Shaper.Tests.Engine;

/// <summary>What an observe rule over its limit does: drop and reject hold the key in a kernel set, log logs once per key per window, soft only tells.</summary>
public sealed class RuleEngineActionTests
{
    private const long Ms = 1_000_000;
    private const long Second = 1_000_000_000;

    private static Rule SlidingLog(string name, long limit, RuleAction action = RuleAction.Drop) => new()
    {
        Name = name,
        Algorithm = AlgorithmKind.SlidingLog,
        Limit = limit,
        Window = TimeSpan.FromSeconds(1),
        Enforce = EnforceKind.Observe,
        Action = action,
    };

    private static Rule Bucket(string name, long perSecond, long burst, RuleAction action = RuleAction.Drop) => new()
    {
        Name = name,
        Rate = new RateSpec(Rate.PerSecondOf(perSecond), RateUnit.Packets, $"{perSecond}/s"),
        Burst = burst,
        Enforce = EnforceKind.Observe,
        Action = action,
    };

    private static PacketMeta Udp(uint src, long t, int length = 64, ushort dport = 9000) => new()
    {
        TimestampNs = t,
        Family = IpFamily.V4,
        Protocol = 17,
        Source = src,
        Destination = 0xC6120002,
        DestinationPort = dport,
        IpLength = length,
    };

    private static RuleEngine Engine(int maxKeys = 1024, params Rule[] rules) =>
        new(CompiledRuleSet.Compile(new ShaperConfig { Rules = rules }), maxKeys);

    private static RuleReport Report(RuleEngine engine, string name, long now) => engine.Report(now).Single(r => r.Name == name);

    [Fact]
    public void Drop_SlidingLog_HoldsTheKeyForItsRetryAfterAndTheGuard()
    {
        var engine = Engine(1024, SlidingLog("log3", 3));
        var holds = new List<KeyHold>();
        engine.KeyHeld += holds.Add;
        const long Guard = RuleEngine.HoldGuardNs;

        for (var t = 0L; t < 10; t++)
        {
            engine.Process(Udp(0xC6120101, t * 100 * Ms)); // 0.0 … 0.9 s: three pass, and the third fills the log
        }

        // The oldest logged arrival (t = 0) has left the window, but the kernel releases the key a little late: a
        // packet in the guard after the retry-after is held, in the engine as in the kernel, and logs nothing.
        engine.Process(Udp(0xC6120101, Second));
        engine.Process(Udp(0xC6120101, Second + Guard)); // past the guard: it passes, and fills the log again

        // Held from the packet that filled the log (0.2 s) until the oldest arrival leaves the window (1.0 s) and the
        // guard: the next packet would be refused, and held now the set stops it, instead of the kernel letting it in
        // while the hold its refusal raised is on its way. The packet after the guard is held until 0.1 s leaves the log.
        Assert.Equal(
            [("log3", RuleAction.Drop, 200 * Ms, Second + Guard), ("log3", RuleAction.Drop, Second + Guard, Second + (100 * Ms) + Guard)],
            holds.Select(h => (h.Rule, h.Action, h.DetectedNs, h.UntilNs)));
        Assert.Equal(new HeldKey(IpFamily.V4, 0xC6120101, 32, 0, KeyKind.Source), holds[0].Key);
        Assert.Equal(8, engine.Held); // 0.3 … 1.0 s: stopped by the kernel set before any rule
        var report = Report(engine, "log3", Second + Guard);
        Assert.Equal((4, 8), (report.Passed, report.Limited));
    }

    [Fact]
    public void Drop_KernelReleasesTheKeyLate_PacketsBeforeItsReleaseCountHeldAsTheKernelStoppedThem()
    {
        var releases = new KernelReleases(20 * Ms);
        var engine = new RuleEngine(CompiledRuleSet.Compile(new ShaperConfig { Rules = [SlidingLog("log3", 3)] }), 1024) { Releases = releases };
        var end = Second + RuleEngine.HoldGuardNs; // the hold raised at 0.2 s ends here (as in the test above)
        for (var t = 0L; t < 10; t++)
        {
            engine.Process(Udp(0xC6120101, t * 100 * Ms));
        }

        // No release round has reported the key out yet, and its element's own timeout has not run out: still stopped.
        engine.Process(Udp(0xC6120101, end + Ms));
        // A round due through the hold's end answered at end + 3 ms: a packet before that was stopped, one after passed.
        releases.Report(end + (Ms / 2), end + (3 * Ms));
        engine.Process(Udp(0xC6120101, end + (2 * Ms)));
        Assert.Equal((0L, 9L), (Report(engine, "log3", end).Passed - 3, engine.Held)); // 0.3 … 0.9 s, and both after the hold ended
        engine.Process(Udp(0xC6120101, end + (4 * Ms)));

        var report = Report(engine, "log3", end + (4 * Ms));
        Assert.Equal((4, 9), (report.Passed, report.Limited));
    }

    [Fact]
    public void Drop_KernelReleasesTheKeyJustBeforeItsEnd_PacketAfterTheReleaseCountsPassed()
    {
        var releases = new KernelReleases(20 * Ms);
        var engine = new RuleEngine(CompiledRuleSet.Compile(new ShaperConfig { Rules = [SlidingLog("log3", 3)] }), 1024) { Releases = releases };
        var end = Second + RuleEngine.HoldGuardNs; // the hold raised at 0.2 s ends here
        for (var t = 0L; t < 10; t++)
        {
            engine.Process(Udp(0xC6120101, t * 100 * Ms));
        }

        // The round that takes the key out started ahead of the hold's end and answered 0.1 ms before it. A packet
        // before the answer was stopped by the kernel; one after it got in, and the log (whose 0 s entry left at 1 s)
        // passes it: counted passed, not held, so the log keeps it.
        releases.Report(end, end - (Ms / 10));
        engine.Process(Udp(0xC6120101, end - (Ms / 5)));
        engine.Process(Udp(0xC6120101, end - (Ms / 20)));

        var report = Report(engine, "log3", end);
        Assert.Equal((4, 8), (report.Passed, report.Limited)); // 0, 0.1, 0.2 s and the last passed; 0.3 … 0.9 s and the one before the answer held
        Assert.Equal(8L, engine.Held);
    }

    [Fact]
    public void Drop_HoldInstalledLate_PacketBeforeTheInstallCountsPassedAndTheKeyWaitsForIt()
    {
        var installs = new KernelInstalls();
        var engine = new RuleEngine(CompiledRuleSet.Compile(new ShaperConfig { Rules = [SlidingLog("log3", 3)] }), 1024)
        {
            Installs = (rule, action) => rule == "log3" && action == RuleAction.Drop ? installs : null,
        };

        // 0, 100 and 200 ms fill the log; the third raises the hold, until the 0 ms entry leaves (1 s + guard).
        foreach (var t in (long[])[0, 100, 200])
        {
            engine.Process(Udp(0xC6120101, t * Ms));
        }

        // The kernel had the key only at 250 ms: the packet at 230 ms got in. It is charged to the log, whatever its
        // limit, so the key now waits for the 100 ms entry to leave; at 300 ms the kernel stopped the key.
        engine.Process(Udp(0xC6120101, 230 * Ms));
        installs.Report(200 * Ms, 250 * Ms);
        engine.Process(Udp(0xC6120101, 300 * Ms));
        Assert.Equal((1L, 1L), (engine.Slipped, engine.Held));

        // Without the charge the hold would have ended at 1,005 ms; it runs to 1,105 ms.
        engine.Process(Udp(0xC6120101, 1_050 * Ms));
        engine.Process(Udp(0xC6120101, 1_110 * Ms));

        var report = Report(engine, "log3", 1_110 * Ms);
        Assert.Equal((5, 2), (report.Passed, report.Limited)); // 0, 100, 200, 230 and 1,110 ms passed; 300 and 1,050 ms held
        Assert.Equal(2L, engine.Held);
    }

    [Fact]
    public void Drop_ReloadKeepingTheRule_CarriesTheSlipCountOn()
    {
        var installs = new KernelInstalls();
        var rules = CompiledRuleSet.Compile(new ShaperConfig { Rules = [SlidingLog("log3", 3)] });
        var engine = new RuleEngine(rules, 1024) { Installs = (_, _) => installs };
        foreach (var t in (long[])[0, 100, 200, 230])
        {
            engine.Process(Udp(0xC6120101, t * Ms)); // 230 ms arrived before the kernel had the key: it slipped
        }

        var reloaded = new RuleEngine(CompiledRuleSet.Compile(new ShaperConfig { Rules = [SlidingLog("log3", 3)] }), 1024, previous: engine) { Installs = (_, _) => installs };
        installs.Report(200 * Ms, 250 * Ms);
        reloaded.Process(Udp(0xC6120101, 300 * Ms));

        Assert.Equal((1L, 1L), (reloaded.Slipped, reloaded.Held));
    }

    [Fact]
    public void Drop_HoldInstalledInTime_NothingSlips()
    {
        var installs = new KernelInstalls();
        var engine = new RuleEngine(CompiledRuleSet.Compile(new ShaperConfig { Rules = [SlidingLog("log3", 3)] }), 1024)
        {
            Installs = (_, _) => installs,
        };
        foreach (var t in (long[])[0, 100, 200])
        {
            engine.Process(Udp(0xC6120101, t * Ms));
        }

        installs.Report(200 * Ms, 201 * Ms);
        engine.Process(Udp(0xC6120101, 230 * Ms));
        engine.Process(Udp(0xC6120101, 1_010 * Ms)); // the hold ended at 1,005 ms: the 0 ms entry has left

        var report = Report(engine, "log3", 1_010 * Ms);
        Assert.Equal((0L, 1L), (engine.Slipped, engine.Held));
        Assert.Equal((4, 1), (report.Passed, report.Limited));
    }

    [Fact]
    public void Drop_KernelReleaseNeverReported_HoldEndsWhenItsElementTimesOut()
    {
        var releases = new KernelReleases(20 * Ms);
        var engine = new RuleEngine(CompiledRuleSet.Compile(new ShaperConfig { Rules = [SlidingLog("log3", 3)] }), 1024) { Releases = releases };
        var end = Second + RuleEngine.HoldGuardNs;
        for (var t = 0L; t < 10; t++)
        {
            engine.Process(Udp(0xC6120101, t * 100 * Ms));
        }

        engine.Process(Udp(0xC6120101, end + (19 * Ms))); // inside the element's timeout: stopped
        engine.Process(Udp(0xC6120101, end + (20 * Ms))); // the element has timed out: the kernel lets it in

        var report = Report(engine, "log3", end + (20 * Ms));
        Assert.Equal((4, 8), (report.Passed, report.Limited));
    }

    [Theory]
    [InlineData(AlgorithmKind.TokenBucket)]
    [InlineData(AlgorithmKind.LeakyBucket)]
    [InlineData(AlgorithmKind.FixedWindow)]
    [InlineData(AlgorithmKind.SlidingLog)]
    [InlineData(AlgorithmKind.SlidingWindow)]
    public void Drop_AnyAlgorithm_PassesWhatTheAlgorithmAloneWouldPass(AlgorithmKind algorithm)
    {
        // Held packets count as limited, never as arrivals: the same traffic through a drop rule and through a
        // log rule (which holds nothing) passes the same packets, per key, for every algorithm.
        Rule Make(string name, RuleAction action) => new()
        {
            Name = name,
            Algorithm = algorithm,
            Rate = algorithm is AlgorithmKind.TokenBucket or AlgorithmKind.LeakyBucket ? new RateSpec(Rate.PerSecondOf(10), RateUnit.Packets, "10/s") : null,
            Burst = algorithm is AlgorithmKind.TokenBucket or AlgorithmKind.LeakyBucket ? 5 : null,
            Limit = algorithm is AlgorithmKind.TokenBucket or AlgorithmKind.LeakyBucket ? null : 7,
            Window = algorithm is AlgorithmKind.TokenBucket or AlgorithmKind.LeakyBucket ? null : TimeSpan.FromSeconds(1),
            Enforce = EnforceKind.Observe,
            Action = action,
        };

        var dropping = Engine(1024, Make("r", RuleAction.Drop));
        var logging = Engine(1024, Make("r", RuleAction.Log));
        var rng = new Random(11);
        for (var i = 0; i < 5000; i++)
        {
            var packet = Udp(0xC6120100 + (uint)rng.Next(4), (i * 3 * Ms) + rng.Next(1000));
            dropping.Process(packet);
            logging.Process(packet);
        }

        var held = Report(dropping, "r", 20 * Second);
        var plain = Report(logging, "r", 20 * Second);
        Assert.True(dropping.Held > 0, "no packet was ever held");
        Assert.Equal(plain.Passed, held.Passed);
        Assert.Equal(plain.Limited, held.Limited);
        Assert.Equal(
            plain.Keys.OrderBy(k => k.Key).Select(k => (k.Key, k.Counters.Passed, k.Counters.Limited)),
            held.Keys.OrderBy(k => k.Key).Select(k => (k.Key, k.Counters.Passed, k.Counters.Limited)));
    }

    [Fact]
    public void Drop_FloodWhileHeld_RaisesOneHoldNotOnePerPacket()
    {
        var engine = Engine(1024, SlidingLog("log3", 3));
        var holds = 0;
        engine.KeyHeld += _ => holds++;

        for (var i = 0; i < 10_000; i++)
        {
            engine.Process(Udp(0xC6120101, i * 50_000L)); // 20,000 a second for half a second
        }

        Assert.Equal(1, holds);
        Assert.Equal(10_000 - 3, engine.Held); // every packet after the three the log takes
    }

    [Fact]
    public void Drop_BytesBucketRefusingPastTheSet_ExtendsOnlyOnceLittleTimeIsLeft()
    {
        // 100 bytes a second, bucket of 100 bytes.
        var rule = Bucket("bytes", 100, 100) with { Rate = new RateSpec(Rate.PerSecondOf(100), RateUnit.Bytes, "100 bytes/s") };
        var engine = Engine(1024, rule);
        var holds = new List<KeyHold>();
        engine.KeyHeld += holds.Add;

        engine.Process(Udp(0xC6120101, 0, length: 100)); // passes: the bucket is empty
        engine.Process(Udp(0xC6120101, 100 * Ms, length: 50)); // 10 bytes in the bucket: held until 0.5 s
        engine.Process(Udp(0xC6120101, 200 * Ms, length: 100)); // needs 1.0 s, but 0.3 s of 0.4 s is left: no update yet
        engine.Process(Udp(0xC6120101, 350 * Ms, length: 100)); // 0.15 s left, under half: held until 1.0 s

        Assert.Equal([(100 * Ms, (500 * Ms) + RuleEngine.HoldGuardNs), (350 * Ms, Second + RuleEngine.HoldGuardNs)], holds.Select(h => (h.DetectedNs, h.UntilNs)));
        Assert.Equal(2, engine.Held);
    }

    [Fact]
    public void Reject_HoldsInTheRejectSetAndReportsIt()
    {
        var engine = Engine(1024, SlidingLog("rej", 2, RuleAction.Reject));
        var holds = new List<KeyHold>();
        engine.KeyHeld += holds.Add;

        engine.Process(Udp(0xC6120101, 0));
        engine.Process(Udp(0xC6120101, 100 * Ms));
        engine.Process(Udp(0xC6120101, 200 * Ms)); // crosses: held until 1.0 s

        Assert.Equal(RuleAction.Reject, Assert.Single(holds).Action);
        var key = Assert.Single(Report(engine, "rej", 400 * Ms).Keys);
        Assert.Equal((KeyState.Rejected, (600 * Ms) + RuleEngine.HoldGuardNs, 0L), (key.State, key.StateLeftNs, key.Remaining));
        Assert.Equal((600 * Ms) + RuleEngine.HoldGuardNs, key.RetryAfterNs);
    }

    [Fact]
    public void Report_HeldKey_ShowsTheSetAndTimeLeftThenOpensWhenItEnds()
    {
        var engine = Engine(1024, Bucket("b", 10, 2));
        engine.Process(Udp(0xC6120101, 0));
        engine.Process(Udp(0xC6120101, 0));
        engine.Process(Udp(0xC6120101, 0)); // over: the next token comes in 0.1 s

        var held = Assert.Single(Report(engine, "b", 40 * Ms).Keys);
        const long Left = (60 * Ms) + RuleEngine.HoldGuardNs;
        Assert.Equal((KeyState.Dropped, Left, 0L, Left), (held.State, held.StateLeftNs, held.Remaining, held.RetryAfterNs));

        var open = Assert.Single(Report(engine, "b", 150 * Ms).Keys);
        Assert.Equal((KeyState.Open, 0L, 0L), (open.State, open.StateLeftNs, open.RetryAfterNs));
        Assert.Equal(1, open.Remaining);
    }

    [Fact]
    public void Report_BlockedKey_ShowsBlockedAndTheBlocksTimeLeftNotTheRefilledBucket()
    {
        var rule = Bucket("blk", 100, 2, RuleAction.Block) with { BlockFor = TimeSpan.FromSeconds(10) };
        var engine = Engine(1024, rule);
        engine.Process(Udp(0xC6120101, 0));
        engine.Process(Udp(0xC6120101, 0));
        engine.Process(Udp(0xC6120101, 0)); // blocked for 10 s

        // After a second the bucket is full again, but the key is in the block set for 9 s more.
        var key = Assert.Single(Report(engine, "blk", Second).Keys);
        Assert.Equal((KeyState.Blocked, 9 * Second, 0L, 9 * Second), (key.State, key.StateLeftNs, key.Remaining, key.RetryAfterNs));
    }

    [Fact]
    public void Drop_PerSourcePrefix_HoldsTheSlash24AsOneKey()
    {
        var rule = Bucket("pfx", 1, 1) with { Per = new KeyScope(KeyKind.Source, 24, 64) };
        var engine = Engine(1024, rule);
        var holds = new List<KeyHold>();
        engine.KeyHeld += holds.Add;

        engine.Process(Udp(0xC6120105, 0)); // takes the /24's one token: the /24 is held
        engine.Process(Udp(0xC61201F0, 0)); // the same /24: held
        engine.Process(Udp(0xC6120177, Ms)); // another host of the /24: held

        var hold = Assert.Single(holds);
        Assert.Equal(new HeldKey(IpFamily.V4, 0xC6120100, 24, 0, KeyKind.Source), hold.Key);
        Assert.Equal("198.18.1.0/24", hold.Key.ToString());
        Assert.Equal(2, engine.Held);
    }

    [Fact]
    public void Drop_PerSourceAndPort_HoldsNothingAsNoKernelSetCanKeyIt()
    {
        // The sets hold addresses; the validator refuses drop with per = "src+dport", and the engine holds nothing
        // the kernel could not: the limiter alone decides each packet, as a log rule's would.
        var rule = Bucket("sp", 1, 1) with { Per = KeyScope.SourceAndDport, Match = new RuleMatch { Proto = Protocol.Udp } };
        var engine = Engine(1024, rule);
        var holds = 0;
        engine.KeyHeld += _ => holds++;

        engine.Process(Udp(0xC6120101, 0, dport: 53));
        engine.Process(Udp(0xC6120101, 0, dport: 53)); // over for port 53
        engine.Process(Udp(0xC6120101, Ms, dport: 123)); // another port: its own key

        Assert.Equal((0, 0L), (holds, engine.Held));
        Assert.Equal(1u, Report(engine, "sp", Ms).Keys.Single(k => k.Key == "198.18.1.1:123").Counters.Passed);
    }

    [Fact]
    public void Drop_OtherTrafficOfAHeldSource_IsNotHeld()
    {
        // The set stops only what the rule matches: the same source's other traffic goes on.
        var rule = Bucket("dns", 1, 1) with { Match = new RuleMatch { Proto = Protocol.Udp, Dport = [new PortRange(53, 53)] } };
        var engine = Engine(1024, rule, Bucket("other", 1000, 1000) with { Enforce = EnforceKind.Kernel });

        engine.Process(Udp(0xC6120101, 0, dport: 53)); // takes the bucket's one token: held from here
        engine.Process(Udp(0xC6120101, 0, dport: 53));
        engine.Process(Udp(0xC6120101, Ms, dport: 53));
        engine.Process(Udp(0xC6120101, Ms, dport: 80));

        Assert.Equal(2, engine.Held);
        Assert.Equal(2, Report(engine, "other", Ms).Passed); // the port-53 packet before the hold, and port 80
    }

    [Fact]
    public void Drop_AllowedSource_IsNeverHeld()
    {
        var config = new ShaperConfig { Allow = [IPNetwork.Parse("198.18.1.0/24")], Rules = [Bucket("b", 1, 1)] };
        var engine = new RuleEngine(CompiledRuleSet.Compile(config), 1024);
        var holds = 0;
        engine.KeyHeld += _ => holds++;
        for (var i = 0; i < 10; i++)
        {
            engine.Process(Udp(0xC6120101, i));
        }

        Assert.Equal((0, 0L, 10L), (holds, engine.Held, engine.Allowed));
    }

    [Fact]
    public void Drop_MoreOffendersThanTheTableHolds_HoldsStayBoundedAndRaiseNoMore()
    {
        var engine = Engine(4, Bucket("b", 1, 1));
        var holds = 0;
        engine.KeyHeld += _ => holds++;

        for (var round = 0; round < 3; round++)
        {
            for (var s = 0u; s < 10; s++)
            {
                engine.Process(Udp(0xC6120100 + s, round * Ms));
                engine.Process(Udp(0xC6120100 + s, round * Ms));
            }
        }

        // The first 4 offenders are held; the table has no room for the other 6, which are not raised per packet.
        Assert.Equal(4, holds);
        Assert.Equal(4, engine.HoldsTracked);
    }

    [Fact]
    public void Log_ManyPacketsOverTheLimit_OneNoticePerKeyPerWindowWithItsCounts()
    {
        var engine = Engine(1024, Bucket("noisy", 5, 5, RuleAction.Log));
        var notices = new List<OverLimitNotice>();
        engine.KeyOverLimit += notices.Add;

        // 3 sources, 100 packets a second each for 3 s.
        for (var i = 0; i < 300; i++)
        {
            for (var s = 0u; s < 3; s++)
            {
                engine.Process(Udp(0xC6120101 + s, i * 10 * Ms));
            }
        }

        // One line per source per one-second window (bucket rules log per second), never per packet.
        Assert.Equal(9, notices.Count);
        Assert.All(notices.GroupBy(n => (n.Key, n.TimestampNs / Second)), g => Assert.Single(g));
        var first = notices[0];
        Assert.Equal(("noisy", RuleAction.Log, RuleMode.Hard, 1L, 5L, Second), (first.Rule, first.Action, first.Mode, first.Limited, first.Passed, first.WindowNs));
        Assert.Equal(9, Report(engine, "noisy", 3 * Second).Logged);
        Assert.Equal(0L, engine.Held); // log enforces nothing
    }

    [Fact]
    public void Log_SlidingLogRule_LogsOncePerItsOwnWindow()
    {
        var rule = SlidingLog("w2", 3, RuleAction.Log) with { Window = TimeSpan.FromSeconds(2) };
        var engine = Engine(1024, rule);
        var notices = new List<OverLimitNotice>();
        engine.KeyOverLimit += notices.Add;

        for (var i = 0; i < 400; i++)
        {
            engine.Process(Udp(0xC6120101, i * 10 * Ms)); // 4 s
        }

        Assert.Equal(2, notices.Count);
        Assert.All(notices, n => Assert.Equal(2 * Second, n.WindowNs));
    }

    [Fact]
    public void Soft_DropRule_TellsWhatItWouldDoAndHoldsNothing()
    {
        var engine = Engine(1024, SlidingLog("dry", 2) with { Mode = RuleMode.Soft });
        var holds = 0;
        var notices = new List<OverLimitNotice>();
        engine.KeyHeld += _ => holds++;
        engine.KeyOverLimit += notices.Add;

        for (var i = 0; i < 50; i++)
        {
            engine.Process(Udp(0xC6120101, i * 10 * Ms));
        }

        var notice = Assert.Single(notices);
        Assert.Equal((RuleAction.Drop, RuleMode.Soft), (notice.Action, notice.Mode));
        Assert.Equal((0, 0L), (holds, engine.Held));
        Assert.Equal(48, Report(engine, "dry", Second).Limited);
    }

    [Fact]
    public void Process_HeldPackets_AllocateNothing()
    {
        var engine = Engine(1024, SlidingLog("log3", 3), Bucket("noisy", 5, 5, RuleAction.Log));
        engine.KeyHeld += _ => { };
        engine.KeyOverLimit += _ => { };
        for (var i = 0; i < 2000; i++)
        {
            engine.Process(Udp(0xC6120100 + (uint)(i % 16), i * Ms)); // warm: every key held and logged once
        }

        // Rounds of 10,000 packets, time going on from one to the next, one of which must allocate nothing (see Allocations).
        var time = 2000;
        var allocated = Allocations.PerRound(() =>
        {
            for (var end = time + 10_000; time < end; time++)
            {
                engine.Process(Udp(0xC6120100 + (uint)(time % 16), time * Ms));
            }
        });

        Assert.True(engine.Held > 0);
        Assert.True(allocated.Min() == 0, $"bytes allocated in each round of 10,000 packets: {string.Join(", ", allocated)}");
    }
}
