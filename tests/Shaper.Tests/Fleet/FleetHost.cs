using Microsoft.Extensions.Time.Testing;
using Shaper.Engine;
using Shaper.Fleet;
using Shaper.Rules;

namespace Shaper.Tests.Fleet;

/// <summary>
/// One host of an in-process fleet: its own engine, its own connection to the shared store, its own sync; the
/// test is its packet thread, so it harvests and applies between packets, as the daemon's capture thread does.
/// </summary>
internal sealed class FleetHost : IAsyncDisposable
{
    private readonly RedisFleetStore _store;

    private FleetHost(RuleEngine engine, RedisFleetStore store, FleetSync sync)
    {
        Engine = engine;
        _store = store;
        Sync = sync;
    }

    public RuleEngine Engine { get; }

    public FleetSync Sync { get; }

    public int Rounds { get; private set; }

    public int SharedRounds { get; private set; }

    public static async Task<FleetHost> StartAsync(ShaperConfig config, string name, FakeTimeProvider time, StoreCallOptions? call = null, BreakerOptions? breaker = null)
    {
        var fleet = config.Fleet! with { Host = name };
        var store = await RedisFleetStore.ConnectAsync(fleet.Redis, name, (call ?? StoreCallOptions.ForSync(fleet.Sync)).AttemptTimeout);
        var policy = new StoreCallPolicy(
            call ?? StoreCallOptions.ForSync(fleet.Sync),
            new CircuitBreaker(breaker ?? BreakerOptions.ForSync(fleet.Sync), time),
            new RetryQuota(),
            time,
            new Random(name.GetHashCode(StringComparison.Ordinal)));
        var sync = new FleetSync(fleet, config.Rules.Where(r => r.Scope == RuleScope.Fleet), store, policy, time);
        var engine = new RuleEngine(CompiledRuleSet.Compile(config), 1024);
        return new FleetHost(engine, store, sync);
    }

    /// <summary>One sync round at <paramref name="nowNs"/> on the packets' clock: harvest, exchange, apply.</summary>
    public async Task<FleetRound> SyncAsync(long nowNs)
    {
        var deltas = new List<FleetDelta>();
        Engine.HarvestFleet(deltas);
        var round = await Sync.ExchangeAsync(deltas, CancellationToken.None);
        Engine.SetFleetShared(round.Shared);
        if (round.Shared)
        {
            Engine.ApplyFleet(round.Grants, nowNs);
            SharedRounds++;
        }

        Rounds++;
        return round;
    }

    public async ValueTask DisposeAsync() => await _store.DisposeAsync();
}
