using System.Diagnostics;
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

    private readonly FakeTimeProvider _time;

    private FleetHost(RuleEngine engine, RedisFleetStore store, FleetSync sync, FakeTimeProvider time)
    {
        _time = time;
        Engine = engine;
        _store = store;
        Sync = sync;
    }

    public RuleEngine Engine { get; }

    public FleetSync Sync { get; }

    public int Rounds { get; private set; }

    public int SharedRounds { get; private set; }

    /// <summary>
    /// Real milliseconds a round may take before the fake clock is moved for it (5: a few hosts' rounds take well under
    /// a millisecond). Many hosts in one process queue on one Redis; their rounds must not push the shared clock on.
    /// </summary>
    public int PatienceMs { get; set; } = 5;

    /// <summary>Each round's real duration, in milliseconds.</summary>
    public List<double> Latencies { get; } = [];

    /// <summary>
    /// Waits for a round. A round that needs the clock (a retry's delay, a timeout) would wait forever on a fake clock
    /// nobody moves, so once it has taken <see cref="PatienceMs"/> of real time the fake clock moves 1 ms per real
    /// millisecond until it ends (at most 60 s): the round takes virtual time as it would take real time.
    /// </summary>
    private async Task<T> Drive<T>(Task<T> round)
    {
        if (await Task.WhenAny(round, Task.Delay(PatienceMs)) == round)
        {
            return await round;
        }

        for (var i = 0; i < 60_000 && !round.IsCompleted; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(1));
            await Task.WhenAny(round, Task.Delay(1));
        }

        return await round;
    }

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
        return new FleetHost(engine, store, sync, time);
    }

    /// <summary>One sync round at <paramref name="nowNs"/> on the packets' clock: harvest, exchange, apply.</summary>
    public async Task<FleetRound> SyncAsync(long nowNs)
    {
        var deltas = new List<FleetDelta>();
        Engine.HarvestFleet(deltas);
        var started = Stopwatch.GetTimestamp();
        var round = await Drive(Sync.ExchangeAsync(deltas, CancellationToken.None));
        Latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        Engine.SetFleetShared(round.ByGrants);
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
