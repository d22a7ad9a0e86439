using Shaper.Engine;
using Shaper.Fleet;
using Shaper.Packets;
using Shaper.Rules;
using Shaper.Tests.Fleet;

namespace Shaper.Tests.Engine;

/// <summary>
/// A fleet rule's decisions on one engine, without a store: the grants are handed in as a sync round would hand them.
/// The rule is an observe drop rule at 300/s with a burst of 60, over 3 hosts, synced every 100 ms.
/// </summary>
public sealed class FleetGateTests
{
    private const long Ms = 1_000_000;
    private const long Sync = 100 * Ms;
    private static readonly HeldKey Key = new(IpFamily.V4, 0xC6120101, 32, 0, KeyKind.Source);

    private static RuleEngine Engine(RuleEngine? previous = null) =>
        new(CompiledRuleSet.Compile(FleetAccuracyTests.Load(FleetAccuracyTests.Config("127.0.0.1:1", "token_bucket", "rate = \"300/s\"\nburst = 60", "fleet"))), 1024, previous: previous);

    private static PacketMeta Udp(long t) => new()
    {
        TimestampNs = t,
        Family = IpFamily.V4,
        Protocol = 17,
        Source = 0xC6120101,
        Destination = 0xC6120002,
        DestinationPort = 9000,
        IpLength = 64,
    };

    private static FleetGrant Grant(double allowance) => new("fleet-r", Key, allowance, allowance * 3, 1.0 / 3);

    [Fact]
    public void PacketThatSpendsTheGrant_HoldsTheKeyUntilTheGrantIsOverdueAndItsRateHasRefilledAPacket()
    {
        var engine = Engine();
        var holds = new List<KeyHold>();
        engine.KeyHeld += holds.Add;
        engine.SetFleetShared(true);
        engine.Process(Udp(1 * Ms)); // the key's first packet: decided by the share, before any grant
        engine.HarvestFleet([]);
        engine.ApplyFleet([Grant(3)], 10 * Ms);

        engine.Process(Udp(11 * Ms));
        engine.Process(Udp(12 * Ms));
        Assert.Empty(holds);
        // Spends the grant: held at once, until the grant is overdue (10 ms + a sync and a half) and its rate (a third of
        // 300/s: a packet every 10 ms) has refilled one packet, and the hold guard.
        engine.Process(Udp(13 * Ms));
        engine.Process(Udp(14 * Ms)); // stopped by the set

        var hold = Assert.Single(holds);
        Assert.Equal((13 * Ms, (10 * Ms) + Sync + (Sync / 2) + (10 * Ms) + RuleEngine.HoldGuardNs), (hold.DetectedNs, hold.UntilNs));
        Assert.Equal(1, engine.Held);
        Assert.Equal((4L, 1L), (engine.Report(14 * Ms)[0].Passed, engine.Report(14 * Ms)[0].Limited));
    }

    [Fact]
    public void PacketPastTheKernelBeforeItsHold_CountsAsAHitForTheStoreAndComesOutOfTheNextGrant()
    {
        var installs = new KernelInstalls();
        var engine = new RuleEngine(CompiledRuleSet.Compile(FleetAccuracyTests.Load(FleetAccuracyTests.Config("127.0.0.1:1", "token_bucket", "rate = \"300/s\"\nburst = 60", "fleet"))), 1024)
        {
            Installs = (_, _) => installs,
        };
        engine.SetFleetShared(true);
        engine.Process(Udp(1 * Ms));
        engine.HarvestFleet([]);
        engine.ApplyFleet([Grant(2)], 10 * Ms);
        engine.Process(Udp(11 * Ms));
        engine.Process(Udp(12 * Ms)); // spends the grant: held from here

        // The kernel had the key only at 20 ms: the packet at 15 ms got in. The store hears of it as a hit.
        engine.Process(Udp(15 * Ms));
        installs.Report(12 * Ms, 20 * Ms);
        engine.Process(Udp(21 * Ms)); // stopped by the set
        var deltas = new List<FleetDelta>();
        engine.HarvestFleet(deltas);

        Assert.Equal((1L, 1L), (engine.Slipped, engine.Held));
        Assert.Equal(3, Assert.Single(deltas).Hits);
        Assert.Equal((4L, 1L), (engine.Report(21 * Ms)[0].Passed, engine.Report(21 * Ms)[0].Limited));
    }

    [Fact]
    public void GrantWhileHeld_ReleasesTheKey_AndItsPacketsPassAgain()
    {
        var engine = Engine();
        var holds = new List<KeyHold>();
        engine.KeyHeld += holds.Add;
        engine.SetFleetShared(true);
        engine.Process(Udp(1 * Ms));
        engine.HarvestFleet([]);
        engine.ApplyFleet([Grant(1)], 10 * Ms);
        engine.Process(Udp(11 * Ms)); // spends it: held until 170 ms

        var deltas = new List<FleetDelta>();
        engine.HarvestFleet(deltas);
        engine.ApplyFleet([Grant(2)], 110 * Ms); // the next grant: the hold ends 1 ms later, not at 170 ms
        Assert.Equal(2, holds.Count);
        Assert.Equal(111 * Ms, holds[1].UntilNs);

        engine.Process(Udp(112 * Ms));
        Assert.Equal(0, engine.Held);
        Assert.Equal(3, engine.Report(112 * Ms)[0].Passed);
    }

    [Fact]
    public void OverdueGrant_KeyGoesOnAtItsLastGrantsRate_InsteadOfStayingHeldUntilTheRoundComes()
    {
        var engine = Engine();
        engine.SetFleetShared(true);
        engine.Process(Udp(1 * Ms));
        engine.HarvestFleet([]);
        engine.ApplyFleet([Grant(3)], 10 * Ms);
        for (var t = 11 * Ms; t <= 13 * Ms; t += Ms)
        {
            engine.Process(Udp(t)); // the grant's 3 packets
        }

        // The next round is late (a busy machine): none comes. From 160 ms, a sync and a half after the grant, the key
        // goes on at its share of the fleet's demand (a third) of the rule's 300/s, a packet every 10 ms: 19 of the 174
        // offered (one every 2 ms from 14 ms to 360 ms) pass, from 176 ms on; the set stops the rest.
        for (var t = 14 * Ms; t < 360 * Ms; t += 2 * Ms)
        {
            engine.Process(Udp(t));
        }

        var report = engine.Report(360 * Ms)[0];
        Assert.Equal(1 + 3 + 19, report.Passed);

        // What it admitted is a hit the store charges with the next round.
        var deltas = new List<FleetDelta>();
        engine.HarvestFleet(deltas);
        Assert.Equal(3 + 19, Assert.Single(deltas).Hits);
    }

    [Fact]
    public void OverdueGrant_RefillsAtMostOneSyncOfItsRate()
    {
        var engine = Engine();
        engine.SetFleetShared(true);
        engine.Process(Udp(1 * Ms));
        engine.HarvestFleet([]);
        engine.ApplyFleet([Grant(1)], 10 * Ms);
        engine.Process(Udp(11 * Ms)); // spends it

        // A second later, still no round: 50 packets at once get what a sync of the key's rate holds (100/s × 100 ms),
        // not the second's 100.
        for (var i = 0; i < 50; i++)
        {
            engine.Process(Udp((1000 * Ms) + (i * 1000)));
        }

        Assert.Equal(1 + 1 + 10, engine.Report(1001 * Ms)[0].Passed);
    }

    [Fact]
    public void OverdueGrant_WithNoShare_StaysHeldUntilARoundComes()
    {
        var engine = Engine();
        engine.SetFleetShared(true);
        engine.Process(Udp(1 * Ms));
        engine.HarvestFleet([]);
        engine.ApplyFleet([new FleetGrant("fleet-r", Key, 1, 3, 0)], 10 * Ms); // share 0: no rate to go on at
        for (var t = 11 * Ms; t < 500 * Ms; t += 5 * Ms)
        {
            engine.Process(Udp(t));
        }

        Assert.Equal(1 + 1, engine.Report(500 * Ms)[0].Passed);
    }

    [Fact]
    public void IdleKey_IsSentOnceWithNothing_ThenForgotten()
    {
        var engine = Engine();
        engine.SetFleetShared(true);
        engine.Process(Udp(1 * Ms));
        engine.HarvestFleet([]);
        engine.ApplyFleet([Grant(3)], 10 * Ms);
        engine.Process(Udp(11 * Ms));
        var deltas = new List<FleetDelta>();
        engine.HarvestFleet(deltas);
        Assert.Equal(new FleetDelta("fleet-r", Key, 1, 1, 0), Assert.Single(deltas));
        engine.ApplyFleet([Grant(3)], 110 * Ms);

        // No packet in the next round: the key is sent with nothing, so the store counts this host out of its demand.
        deltas.Clear();
        engine.HarvestFleet(deltas);
        Assert.Equal(new FleetDelta("fleet-r", Key, 0, 0, 0), Assert.Single(deltas));
        engine.ApplyFleet([Grant(0)], 210 * Ms);

        // Still none: not sent again, and forgotten.
        deltas.Clear();
        engine.HarvestFleet(deltas);
        Assert.Empty(deltas);
        Assert.Equal(0, Assert.Single(engine.FleetReport()).Keys);
    }

    [Fact]
    public void IdleKeyBack_GoesByTheLocalShare_NotByTheAnswerToItsIdleReport()
    {
        var engine = Engine();
        engine.SetFleetShared(true);
        engine.Process(Udp(1 * Ms));
        engine.HarvestFleet([]);
        engine.ApplyFleet([Grant(3)], 10 * Ms);
        engine.HarvestFleet([]); // the round after: no packet, sent idle
        engine.ApplyFleet([Grant(0)], 110 * Ms); // the store's answer (nothing for an idle host) is not applied

        engine.Process(Udp(111 * Ms)); // back: decided by the local share (a burst of 20), passes
        var fleet = Assert.Single(engine.FleetReport());
        Assert.Equal((0L, 2L), (fleet.GrantDecided, fleet.ShareDecided));
        Assert.Equal(2, engine.Report(111 * Ms)[0].Passed);
    }

    [Fact]
    public void Grant_LessWhatTheKeyAdmittedSinceTheHarvest()
    {
        var engine = Engine();
        engine.SetFleetShared(true);
        engine.Process(Udp(1 * Ms));
        engine.HarvestFleet([]);
        engine.ApplyFleet([Grant(5)], 10 * Ms);
        engine.Process(Udp(11 * Ms));
        var deltas = new List<FleetDelta>();
        engine.HarvestFleet(deltas);

        // Two packets by the old grant while the round is on its way: the new grant, computed as of the harvest, is 2 less.
        engine.Process(Udp(12 * Ms));
        engine.Process(Udp(13 * Ms));
        engine.ApplyFleet([Grant(3)], 20 * Ms);
        engine.Process(Udp(21 * Ms)); // the one packet left, which spends it
        engine.Process(Udp(22 * Ms)); // none left: held
        Assert.Equal((5L, 1L), (engine.Report(22 * Ms)[0].Passed, engine.Held));
    }

    [Fact]
    public void BeforeTheFirstRound_WhatTheShareAdmitsIsAHitTheStoreCharges()
    {
        // No round yet: the store is taken to be there. Recorded uncharged, as while it is away, these hits would come
        // on top of the full bucket the store starts a new key with.
        var engine = Engine();
        engine.Process(Udp(1 * Ms));
        engine.Process(Udp(2 * Ms));
        var deltas = new List<FleetDelta>();
        engine.HarvestFleet(deltas);
        Assert.Equal(new FleetDelta("fleet-r", Key, 2, 2, 0), Assert.Single(deltas));
    }

    [Fact]
    public void StoreAway_ShareHitsAreHarvestedApart_AsCarried()
    {
        var engine = Engine();
        engine.SetFleetShared(false);
        engine.Process(Udp(1 * Ms));
        engine.Process(Udp(2 * Ms));
        engine.SetFleetShared(true);
        engine.Process(Udp(3 * Ms)); // no grant yet: the share decides, and the store will charge it
        var deltas = new List<FleetDelta>();
        engine.HarvestFleet(deltas);
        Assert.Equal(new FleetDelta("fleet-r", Key, 1, 3, 2), Assert.Single(deltas));
    }

    [Fact]
    public void ReloadKeepingTheRule_KeepsTheHitsWaitingForTheStore()
    {
        var engine = Engine();
        engine.SetFleetShared(true);
        engine.Process(Udp(1 * Ms));
        engine.Process(Udp(2 * Ms));

        var reloaded = Engine(previous: engine);
        reloaded.Process(Udp(3 * Ms));
        var deltas = new List<FleetDelta>();
        reloaded.HarvestFleet(deltas);
        Assert.Equal(new FleetDelta("fleet-r", Key, 3, 3, 0), Assert.Single(deltas));
    }
}
