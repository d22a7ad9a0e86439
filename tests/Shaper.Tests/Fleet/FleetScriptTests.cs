using Shaper.Engine;
using Shaper.Fleet;
using Shaper.Packets;
using Shaper.Rules;
using Shaper.Tests.Lab;

namespace Shaper.Tests.Fleet;

/// <summary>The store's per-key script on a real redis-server, called directly as one host's rounds would call it.</summary>
public sealed class FleetScriptTests
{
    [RedisFact]
    public async Task RetriedCall_ChargesItsHitsOnce()
    {
        using var redis = RedisServer.Start();
        var rule = FleetAccuracyTests.Load(FleetAccuracyTests.Config(redis.Endpoint, "token_bucket", "rate = \"300/s\"\nburst = 60", "fleet")).Rules[0];
        var rules = new Dictionary<string, Rule>(StringComparer.Ordinal) { [rule.Name] = rule };
        await using var store = await RedisFleetStore.ConnectAsync(redis.Endpoint, "h", TimeSpan.FromSeconds(1));
        var key = new HeldKey(IpFamily.V4, 0xC6120101, 32, 0, KeyKind.Source);
        var sync = TimeSpan.FromMilliseconds(100);
        const long now = 1_800_000_000_000_000;

        async Task<double> Room(long atUs, long hits) =>
            (await store.ExchangeAsync([new FleetDelta(rule.Name, key, hits, hits)], [], [], 60_000, 0, rules, sync, atUs, 100_000, CancellationToken.None)).Grants[0].Available;

        // A new key starts full as of the start of the 100 ms the hits cover: 60, plus 30 refilled over them (at most
        // 60 held), less the 40 hits.
        Assert.Equal(50, await Room(now, 40), 6);

        // The same call again (a retry after its reply was lost): the hits were charged already, not 10 left.
        Assert.Equal(50, await Room(now, 40), 6);

        // The next round, 1 ms later: 0.3 tokens back, 5 hits charged.
        Assert.Equal(45.3, await Room(now + 1000, 5), 6);
    }

    private static readonly HeldKey Key = new(IpFamily.V4, 0xC6120101, 32, 0, KeyKind.Source);

    private static readonly TimeSpan Sync = TimeSpan.FromMilliseconds(100);

    private const long Now = 1_800_000_000_000_000; // µs, a whole second

    private static double R(double value) => Math.Round(value, 6);

    private static (Rule Rule, Dictionary<string, Rule> Rules) RuleOf(RedisServer redis, string algorithm, string sizing)
    {
        var rule = FleetAccuracyTests.Load(FleetAccuracyTests.Config(redis.Endpoint, algorithm, sizing, "fleet")).Rules[0];
        return (rule, new Dictionary<string, Rule>(StringComparer.Ordinal) { [rule.Name] = rule });
    }

    private static async Task<FleetGrant> Exchange(RedisFleetStore store, (Rule Rule, Dictionary<string, Rule> Rules) rule, long atUs, long hits, long demand) =>
        (await store.ExchangeAsync([new FleetDelta(rule.Rule.Name, Key, hits, demand)], [], [], 60_000, 0, rule.Rules, Sync, atUs, 100_000, CancellationToken.None)).Grants[0];

    [RedisFact]
    public async Task TokenBucket_GrantsTheRoomUntilTheHostsNextExchange()
    {
        using var redis = RedisServer.Start();
        var rule = RuleOf(redis, "token_bucket", "rate = \"300/s\"\nburst = 60");
        await using var store = await RedisFleetStore.ConnectAsync(redis.Endpoint, "h", TimeSpan.FromSeconds(1));

        // 60 + 30 refilled over the 100 ms the hits cover, less the 60 hits: 30 left. The host, alone, may admit those
        // and the 30 the bucket refills until its next exchange a sync later, as one limiter would in that time.
        var grant = await Exchange(store, rule, Now, 60, 600);
        Assert.Equal((60.0, 30.0), (R(grant.Allowance), R(grant.Available)));
    }

    [RedisFact]
    public async Task Grant_AtMostTwiceWhatTheHostsDemandTakesInASync()
    {
        using var redis = RedisServer.Start();
        var rule = RuleOf(redis, "token_bucket", "rate = \"300/s\"\nburst = 60");
        await using var store = await RedisFleetStore.ConnectAsync(redis.Endpoint, "h", TimeSpan.FromSeconds(1));

        // 5 packets offered in the last 100 ms: 10 until the next exchange, not the room's 90, which the hosts the
        // key's other traffic reaches may need.
        var grant = await Exchange(store, rule, Now, 0, 5);
        Assert.Equal((10.0, 60.0), (R(grant.Allowance), R(grant.Available)));
    }

    [RedisFact]
    public async Task IdleHost_HasNoShare_AndWhatItsGrantHeldGoesToTheOthers()
    {
        using var redis = RedisServer.Start();
        var rule = RuleOf(redis, "token_bucket", "rate = \"300/s\"\nburst = 60");
        await using var a = await RedisFleetStore.ConnectAsync(redis.Endpoint, "a", TimeSpan.FromSeconds(1));
        await using var b = await RedisFleetStore.ConnectAsync(redis.Endpoint, "b", TimeSpan.FromSeconds(1));

        Assert.Equal(90, (await Exchange(a, rule, Now, 0, 600)).Allowance, 6); // alone: the 60 and a sync's 30
        Assert.Equal(0, (await Exchange(b, rule, Now + 1000, 0, 600)).Allowance); // a's grant holds the whole room

        // a's traffic stopped: it reports the key with nothing, gets nothing, and holds nothing any more.
        var idle = await Exchange(a, rule, Now + 2000, 0, 0);
        Assert.Equal((0.0, 0.0), (idle.Allowance, idle.Share));
        var after = await Exchange(b, rule, Now + 3000, 0, 600);
        Assert.Equal((90.0, 1.0), (R(after.Allowance), R(after.Share)));
    }

    [RedisFact]
    public async Task SlidingWindow_RoomAheadEndsWithTheWindow()
    {
        using var redis = RedisServer.Start();
        var rule = RuleOf(redis, "sliding_window", "limit = 300\nwindow = \"1s\"");
        await using var store = await RedisFleetStore.ConnectAsync(redis.Endpoint, "h", TimeSpan.FromSeconds(1));
        await Exchange(store, rule, Now + 500_000, 300, 300); // the window's 300, half-way through it

        // The next window, half-way: the previous 300 weigh half, 150 left now; over the next sync their weight
        // falls by a tenth, 30 more.
        var half = await Exchange(store, rule, Now + 1_500_000, 0, 6000);
        Assert.Equal((180.0, 150.0), (R(half.Allowance), R(half.Available)));

        // 50 ms before the window ends: 285 left now, and only the 15 that come free before the end: what the host
        // admits until then counts in this window, which can take 300 in all.
        var end = await Exchange(store, rule, Now + 1_950_000, 0, 6000);
        Assert.Equal((300.0, 285.0), (R(end.Allowance), R(end.Available)));
    }
}
