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
}
