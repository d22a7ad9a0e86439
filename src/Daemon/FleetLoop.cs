using Microsoft.Extensions.Logging;
using Shaper.Engine;
using Shaper.Fleet;
using Shaper.Rules;

namespace Shaper.Daemon;

/// <summary>
/// The daemon's fleet sync: every <c>sync</c>, a round on a background task. The capture lanes' engines hand over
/// their fleet keys' hits between packets (a query on each lane's thread, so the packet path takes no lock and
/// never waits on the network), the <see cref="FleetSync"/> exchanges them with Redis through the breaker, timeouts
/// and retries, and the lanes take the grants (or, the store away, go by their share) between packets again.
/// </summary>
internal sealed class FleetLoop : IAsyncDisposable
{
    private readonly EngineRunner _runner;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly RedisFleetStore _store;
    private readonly FleetSettings _settings;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    private FleetLoop(FleetSettings settings, RedisFleetStore store, FleetSync sync, EngineRunner runner, TimeProvider time, ILogger logger, IReadOnlyList<string> rules)
    {
        Rules = rules;
        _settings = settings;
        _store = store;
        Sync = sync;
        _runner = runner;
        _time = time;
        _logger = logger;
    }

    /// <summary>The sync (status, the breaker).</summary>
    public FleetSync Sync { get; }

    /// <summary>The fleet rules' names.</summary>
    public IReadOnlyList<string> Rules { get; }

    /// <summary>The <c>[fleet]</c> settings it runs with.</summary>
    public FleetSettings Settings => _settings;

    /// <summary>Connects (in the background when Redis is not up) and starts the rounds for the fleet rules of <paramref name="rules"/>.</summary>
    public static async Task<FleetLoop> StartAsync(FleetSettings settings, IReadOnlyList<Rule> rules, EngineRunner runner, TimeProvider time, ILogger logger)
    {
        var call = StoreCallOptions.ForSync(settings.Sync);
        var breaker = new CircuitBreaker(BreakerOptions.ForSync(settings.Sync), time);
        var store = await RedisFleetStore.ConnectAsync(settings.Redis, settings.EffectiveHost, call.AttemptTimeout).ConfigureAwait(false);
        var fleetRules = rules.Where(r => r.Scope == RuleScope.Fleet).ToList();
        var sync = new FleetSync(settings, fleetRules, store, new StoreCallPolicy(call, breaker, new RetryQuota(), time, new Random()), time);
        var loop = new FleetLoop(settings, store, sync, runner, time, logger, [.. fleetRules.Select(r => r.Name)]);
        breaker.StateChanged += (from, to) =>
        {
            // Opened by its rates: the window's rates then (the new state's window is empty); else the window now.
            var trip = breaker.LastTrip;
            var snapshot = breaker.Snapshot();
            var (failure, slow, calls) = to == BreakerState.Open ? trip : (snapshot.FailureRate, snapshot.SlowCallRate, snapshot.BufferedCalls);
            Log.BreakerMoved(logger, Name(from), Name(to), failure, slow, calls);
        };
        sync.ModeChanged += (shared, reason) =>
        {
            if (shared)
            {
                Log.FleetShared(logger, reason);
            }
            else
            {
                Log.FleetShareOnly(logger, settings.Hosts, reason);
            }
        };
        Log.FleetStarted(logger, settings.EffectiveHost, fleetRules.Count, settings.Redis, settings.Sync.TotalMilliseconds, settings.Hosts);
        loop._loop = Task.Run(() => loop.RunAsync(loop._stop.Token));
        return loop;
    }

    /// <summary>The breaker state's name as status and <c>shaperctl</c> print it.</summary>
    public static string Name(BreakerState state) => state switch
    {
        BreakerState.HalfOpen => "half_open",
        BreakerState.ForcedOpen => "forced_open",
        _ => state.ToString().ToLowerInvariant(),
    };

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await _store.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_settings.Sync, _time);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await RoundAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                Log.FleetRoundFailed(_logger, e.Message);
            }
        }
    }

    private async Task RoundAsync(CancellationToken cancellationToken)
    {
        var harvested = await _runner.QueryAllAsync(engine =>
        {
            var deltas = new List<FleetDelta>();
            engine.HarvestFleet(deltas);
            return deltas;
        }).ConfigureAwait(false);
        var round = await Sync.ExchangeAsync([.. harvested.SelectMany(d => d)], cancellationToken).ConfigureAwait(false);
        await _runner.QueryAllAsync(engine =>
        {
            engine.SetFleetShared(round.ByGrants);
            if (round.Shared)
            {
                engine.ApplyFleet(round.Grants, _runner.NowNs);
            }

            return 0;
        }).ConfigureAwait(false);
    }
}
