using Microsoft.Extensions.Time.Testing;
using Shaper.Engine;
using Shaper.Fleet;
using Shaper.Packets;
using Shaper.Rules;
using Shaper.Tests.Lab;

namespace Shaper.Tests.Fleet;

/// <summary>
/// What the store counts for a fleet rule's key across every host, as <c>shaperctl counters</c> shows it beside the
/// host's own counts: three hosts against a real redis-server, one client spread over them.
/// </summary>
public sealed class FleetCountersTests
{
    [RedisFact]
    public async Task LastGrants_AfterEveryHostSentItsHits_FleetPassedIsTheSumOfTheHostsPassed()
    {
        using var redis = RedisServer.Start();
        var config = FleetAccuracyTests.Load(FleetAccuracyTests.Config(redis.Endpoint, "token_bucket", "rate = \"100/s\"\nburst = 20", "fleet"));
        var time = new FakeTimeProvider(FleetSimulation.Epoch);
        var hosts = new List<FleetHost>();
        try
        {
            for (var h = 0; h < 3; h++)
            {
                hosts.Add(await FleetHost.StartAsync(config, $"h{h}", time));
            }

            // One client at three times the limit for 2 s, spread 2:1:1.
            var passed = await FleetSimulation.RunAsync(hosts, time, TimeSpan.FromMilliseconds(100), 300, TimeSpan.FromSeconds(2), [2, 1, 1]);

            // One more round each, in order, so every hit has reached the store: the last host's answer holds them all.
            var endNs = FleetSimulation.Start + TimeSpan.FromSeconds(3).Ticks * 100;
            var lastRoundAt = time.GetUtcNow();
            foreach (var host in hosts)
            {
                time.Advance(TimeSpan.FromMilliseconds(1));
                lastRoundAt = time.GetUtcNow();
                Assert.True((await host.SyncAsync(endNs)).Shared);
            }

            var key = Assert.Single(hosts[0].Engine.Report(0).Single().Keys).Key; // the key as counters shows it
            var (grant, age) = hosts[2].Sync.LastGrants("fleet-r")[key];
            Assert.Equal(passed.Sum(), grant.FleetAdmitted);
            // Stamped when that round started: a round slow in real time (a busy machine) moves the fake clock as it
            // waits (FleetHost.Drive), so the age is how far the clock moved since, 0 when the round was quick.
            Assert.Equal(time.GetUtcNow() - lastRoundAt, age);
            Assert.InRange(grant.Share, 0, 1);

            // Each host has the key's figures from its own last answer; those answered earlier counted fewer hits.
            Assert.True(hosts[0].Sync.LastGrants("fleet-r")[key].Grant.FleetAdmitted <= grant.FleetAdmitted);
            Assert.Empty(hosts[0].Sync.LastGrants("no-such-rule"));

            // Not shown once the key has not been exchanged for a minute.
            time.Advance(FleetSync.GrantShownFor + TimeSpan.FromMilliseconds(1));
            Assert.Empty(hosts[2].Sync.LastGrants("fleet-r"));
        }
        finally
        {
            foreach (var host in hosts)
            {
                await host.DisposeAsync();
            }
        }
    }

    [RedisFact]
    public async Task Script_HitsOfEveryHostCountedTogether_ARetryOnce()
    {
        using var redis = RedisServer.Start();
        var rule = FleetAccuracyTests.Load(FleetAccuracyTests.Config(redis.Endpoint, "sliding_window", "limit = 300\nwindow = \"1s\"", "fleet")).Rules[0];
        var rules = new Dictionary<string, Rule>(StringComparer.Ordinal) { [rule.Name] = rule };
        await using var h = await RedisFleetStore.ConnectAsync(redis.Endpoint, "h", TimeSpan.FromSeconds(1));
        await using var g = await RedisFleetStore.ConnectAsync(redis.Endpoint, "g", TimeSpan.FromSeconds(1));
        var key = new HeldKey(IpFamily.V4, 0xC6120101, 32, 0, KeyKind.Source);
        const long now = 1_800_000_000_000_000;

        async Task<double> Admitted(RedisFleetStore store, long atUs, long hits) =>
            (await store.ExchangeAsync([new FleetDelta(rule.Name, key, hits, hits)], [], [], 60_000, 0, rules, TimeSpan.FromMilliseconds(100), atUs, 100_000, CancellationToken.None)).Grants[0].FleetAdmitted;

        Assert.Equal(40, await Admitted(h, now, 40));
        Assert.Equal(40, await Admitted(h, now, 40)); // the same call again (its reply was lost): counted once
        Assert.Equal(50, await Admitted(g, now + 1000, 10)); // another host's hits join them
    }

    [RedisFact]
    public async Task LastGrants_AfterTheKeyWentIdle_KeepTheShareOfItsLastRoundWithTraffic()
    {
        using var redis = RedisServer.Start();
        var config = FleetAccuracyTests.Load(FleetAccuracyTests.Config(redis.Endpoint, "token_bucket", "rate = \"100/s\"\nburst = 20", "fleet"));
        var time = new FakeTimeProvider(FleetSimulation.Epoch);
        await using var host = await FleetHost.StartAsync(config, "h0", time);
        var passed = await FleetSimulation.RunAsync([host], time, TimeSpan.FromMilliseconds(100), 300, TimeSpan.FromSeconds(1), [1]);

        // A round with the last packets' hits, then one with none: the key is reported idle, and the store answers that
        // report with no share. The counters go on showing the share the host had (alone: all of it), and the
        // fleet's count of every hit.
        var endNs = FleetSimulation.Start + TimeSpan.FromSeconds(2).Ticks * 100;
        time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.True((await host.SyncAsync(endNs)).Shared);
        time.Advance(TimeSpan.FromMilliseconds(100));
        var idle = await host.SyncAsync(endNs + (100 * 1_000_000L));
        Assert.Equal(0, Assert.Single(idle.Grants).Share);

        var (grant, _) = Assert.Single(host.Sync.LastGrants("fleet-r")).Value;
        Assert.Equal((1.0, (double)passed[0]), (grant.Share, grant.FleetAdmitted));
    }
}
