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
    public void PacketThatSpendsTheGrant_HoldsTheKeyUntilTheNextGrantIsDue()
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
        engine.Process(Udp(13 * Ms)); // spends the grant: held at once, to the next grant (10 + 100 ms), half a sync and the hold guard
        engine.Process(Udp(14 * Ms)); // stopped by the set

        var hold = Assert.Single(holds);
        Assert.Equal((13 * Ms, (10 * Ms) + Sync + (Sync / 2) + RuleEngine.HoldGuardNs), (hold.DetectedNs, hold.UntilNs));
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
        engine.Process(Udp(11 * Ms)); // spends it: held until 160 ms

        var deltas = new List<FleetDelta>();
        engine.HarvestFleet(deltas);
        engine.ApplyFleet([Grant(2)], 110 * Ms); // the next grant: the hold ends 1 ms later, not at 160 ms
        Assert.Equal(2, holds.Count);
        Assert.Equal(111 * Ms, holds[1].UntilNs);

        engine.Process(Udp(112 * Ms));
        Assert.Equal(0, engine.Held);
        Assert.Equal(3, engine.Report(112 * Ms)[0].Passed);
    }

    [Fact]
    public void Grant_LessWhatTheKeyAdmittedSinceTheHarvest()
    {
        var engine = Engine();
        engine.SetFleetShared(true);
        engine.Process(Udp(1 * Ms));
        engine.HarvestFleet([]);
        engine.ApplyFleet([Grant(5)], 10 * Ms);
        var deltas = new List<FleetDelta>();
        engine.HarvestFleet(deltas);

        // Two packets by the old grant while the round is on its way: the new grant, computed as of the harvest, is 2 less.
        engine.Process(Udp(11 * Ms));
        engine.Process(Udp(12 * Ms));
        engine.ApplyFleet([Grant(3)], 20 * Ms);
        engine.Process(Udp(21 * Ms)); // the one packet left, which spends it
        engine.Process(Udp(22 * Ms)); // none left: held
        Assert.Equal((4L, 1L), (engine.Report(22 * Ms)[0].Passed, engine.Held));
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
