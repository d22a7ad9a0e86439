using Microsoft.Extensions.Time.Testing;
using Shaper.Fleet;
using Shaper.Tests.Lab;

namespace Shaper.Tests.Fleet;

/// <summary>
/// Blocks shared through a real redis-server: what one host publishes with a round, the other hosts read with their
/// next round; a host that starts (again) reads the live blocks with its first; a block published again keeps its
/// later end; ended blocks are not handed out. The hosts' clock is a fake one, so ends are exact.
/// </summary>
public sealed class FleetBlockSharingTests
{
    private const string Sizing = "rate = \"10/s\"\nburst = 5\nblock_for = \"60s\"";

    /// <summary>One fleet token bucket rule (10/s, burst 5) with action = "block", against <paramref name="redis"/>.</summary>
    private static Shaper.Rules.ShaperConfig BlockingFleetRule(RedisServer redis) =>
        FleetAccuracyTests.Load(FleetAccuracyTests.Config(redis.Endpoint, "token_bucket", Sizing, "fleet").Replace("action = \"drop\"", "action = \"block\"", StringComparison.Ordinal));

    [RedisFact]
    public async Task BlockPublishedByOneHost_ReachesTheOthersNextRound_AndAHostThatStartsAgainGetsItFirst()
    {
        using var redis = RedisServer.Start();
        var config = BlockingFleetRule(redis);
        var time = new FakeTimeProvider(FleetSimulation.Epoch);
        var nowMs = FleetSimulation.Epoch.ToUnixTimeMilliseconds();
        await using var a = await FleetHost.StartAsync(config, "a", time);
        await using var b = await FleetHost.StartAsync(config, "b", time);

        // First rounds: the fleet has no block yet, and each host learns so (an empty set, not "unchanged").
        Assert.Empty((await a.SyncAsync(0)).Blocks!);
        Assert.Empty((await b.SyncAsync(0)).Blocks!);

        a.Sync.Publish(new FleetBlock("198.18.5.7/32", nowMs + 60_000));
        var published = await a.SyncAsync(0);
        Assert.True(published.Shared);
        Assert.Equal(1, a.Sync.Published);

        // B's next round brings it, with its end; the one after, nothing new.
        Assert.Equal([new FleetBlock("198.18.5.7/32", nowMs + 60_000, "a")], (await b.SyncAsync(0)).Blocks!);
        Assert.Null((await b.SyncAsync(0)).Blocks);

        // Published again with an earlier end (another host's shorter block): the later end stays, nothing changes.
        b.Sync.Publish(new FleetBlock("198.18.5.7/32", nowMs + 30_000));
        await b.SyncAsync(0);
        Assert.Null((await a.SyncAsync(0)).Blocks);

        // Published with a later end: every host gets the new end, and who published it.
        b.Sync.Publish(new FleetBlock("198.18.5.7/32", nowMs + 90_000));
        await b.SyncAsync(0);
        Assert.Equal([new FleetBlock("198.18.5.7/32", nowMs + 90_000, "b")], (await a.SyncAsync(0)).Blocks!);

        // B restarted (a new sync with nothing remembered): its first round has the fleet's live block.
        await using (var restarted = await FleetHost.StartAsync(config, "b", time))
        {
            Assert.Equal([new FleetBlock("198.18.5.7/32", nowMs + 90_000, "b")], (await restarted.SyncAsync(0)).Blocks!);
        }

        // Once the block has ended, a host that starts gets nothing.
        time.Advance(TimeSpan.FromSeconds(91));
        await using var late = await FleetHost.StartAsync(config, "c", time);
        Assert.Empty((await late.SyncAsync(0)).Blocks!);
    }

    [RedisFact]
    public async Task BlockDeletedOnOneHost_LeavesEveryHostsNextRead_AndIsNeverPublishedAgainUnlessDecidedAfter()
    {
        using var redis = RedisServer.Start();
        var config = BlockingFleetRule(redis);
        var time = new FakeTimeProvider(FleetSimulation.Epoch);
        var nowMs = FleetSimulation.Epoch.ToUnixTimeMilliseconds();
        await using var a = await FleetHost.StartAsync(config, "a", time);
        await using var b = await FleetHost.StartAsync(config, "b", time);
        await a.SyncAsync(0);
        await b.SyncAsync(0);

        // A decides two blocks; both hosts have them.
        a.Sync.Publish(new FleetBlock("198.18.5.7/32", nowMs + 60_000, DecidedUnixMs: nowMs));
        a.Sync.Publish(new FleetBlock("198.18.5.8/32", nowMs + 60_000, DecidedUnixMs: nowMs));
        await a.SyncAsync(0);
        Assert.Equal(2, (await b.SyncAsync(0)).Blocks!.Count);

        // B deletes one (block del there) 1 s later: B's own round and A's next read no longer have it, the other stays.
        time.Advance(TimeSpan.FromSeconds(1));
        b.Sync.Delete("198.18.5.7/32");
        var deleting = await b.SyncAsync(0);
        Assert.True(deleting.Shared);
        Assert.Equal(1, b.Sync.Deleted);
        Assert.Equal(["198.18.5.8/32"], deleting.Blocks!.Select(x => x.Network));
        Assert.Equal(["198.18.5.8/32"], (await a.SyncAsync(0)).Blocks!.Select(x => x.Network));

        // A publication decided before the deletion (a host kept it through an outage, or decided it in the same round)
        // is refused: the block does not come back, on any host, nor for one that starts now.
        a.Sync.Publish(new FleetBlock("198.18.5.7/32", nowMs + 60_000, DecidedUnixMs: nowMs + 500));
        var stale = await a.SyncAsync(0);
        Assert.Equal(["198.18.5.7/32"], stale.Published!.Select(x => x.Network)); // sent, and refused by the store
        Assert.Null(stale.Blocks); // the set did not change
        Assert.Null((await b.SyncAsync(0)).Blocks);
        await using (var restarted = await FleetHost.StartAsync(config, "c", time))
        {
            Assert.Equal(["198.18.5.8/32"], (await restarted.SyncAsync(0)).Blocks!.Select(x => x.Network));
        }

        // A block of the network decided after the deletion (the client still floods) is a new block: every host gets it.
        time.Advance(TimeSpan.FromSeconds(1));
        a.Sync.Publish(new FleetBlock("198.18.5.7/32", nowMs + 62_000, DecidedUnixMs: nowMs + 2_000));
        await a.SyncAsync(0);
        Assert.Contains(new FleetBlock("198.18.5.7/32", nowMs + 62_000, "a"), (await b.SyncAsync(0)).Blocks!);

        // A deletion is kept as long as the longest block_for of the fleet rules (60 s here): after that a publication
        // decided before it has ended, and is refused for that.
        Assert.Equal(60_000, a.Sync.KeepDeletedMs);
    }

    [RedisFact]
    public async Task BreakerOpen_DeletionWaitsForTheNextRoundThatReachesTheStore()
    {
        using var redis = RedisServer.Start();
        var config = BlockingFleetRule(redis);
        var time = new FakeTimeProvider(FleetSimulation.Epoch);
        var nowMs = FleetSimulation.Epoch.ToUnixTimeMilliseconds();
        await using var a = await FleetHost.StartAsync(config, "a", time);
        await using var b = await FleetHost.StartAsync(config, "b", time);
        a.Sync.Publish(new FleetBlock("198.18.5.7/32", nowMs + 60_000));
        await a.SyncAsync(0);
        Assert.Single((await b.SyncAsync(0)).Blocks!);

        // B's breaker forced open (shaperctl fleet breaker open): its rounds send nothing, the deletion waits.
        b.Sync.Policy.Breaker.ForceOpen();
        b.Sync.Delete("198.18.5.7/32");
        Assert.False((await b.SyncAsync(0)).Shared);
        Assert.Equal(0, b.Sync.Deleted);
        Assert.Null((await a.SyncAsync(0)).Blocks); // the fleet still has it

        b.Sync.Policy.Breaker.Close();
        Assert.True((await b.SyncAsync(0)).Shared);
        Assert.Equal(1, b.Sync.Deleted);
        Assert.Empty((await a.SyncAsync(0)).Blocks!);
    }

    [RedisFact]
    public async Task StoreAway_BlockWaitsForTheNextRoundThatReachesIt()
    {
        using var redis = RedisServer.Start();
        var config = BlockingFleetRule(redis);
        var time = new FakeTimeProvider(FleetSimulation.Epoch);
        var nowMs = FleetSimulation.Epoch.ToUnixTimeMilliseconds();
        await using var a = await FleetHost.StartAsync(config, "a", time);
        await using var b = await FleetHost.StartAsync(config, "b", time);
        await a.SyncAsync(0);
        await b.SyncAsync(0);

        redis.Kill();
        a.Sync.Publish(new FleetBlock("2001:db8::/64", nowMs + 60_000));
        Assert.False((await a.SyncAsync(0)).Shared);
        Assert.Equal(0, a.Sync.Published);

        redis.Restart();
        await WaitConnected(a, b);
        Assert.True((await a.SyncAsync(0)).Shared);
        Assert.Equal(1, a.Sync.Published);
        Assert.Equal([new FleetBlock("2001:db8::/64", nowMs + 60_000, "a")], (await b.SyncAsync(0)).Blocks!);
    }

    private static async Task WaitConnected(params FleetHost[] hosts)
    {
        // StackExchange.Redis reconnects on its own (real) clock; at most 15 s.
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(15) && !hosts.All(h => h.Sync.Status().Connected))
        {
            await Task.Delay(20);
        }

        Assert.True(hosts.All(h => h.Sync.Status().Connected), "the hosts did not reconnect to the restarted redis-server in 15 s");
    }
}
