using System.Net;
using Microsoft.Extensions.Logging;
using Shaper.Engine;
using Shaper.Fleet;
using Shaper.Packets;
using Shaper.Rules;

namespace Shaper.Daemon;

/// <summary>
/// The daemon's fleet sync: every <c>sync</c>, a round on a background task. The capture lanes' engines hand over
/// their fleet keys' hits between packets (a query on each lane's thread, so the packet path takes no lock and
/// never waits on the network), the <see cref="FleetSync"/> exchanges them with Redis through the breaker, timeouts
/// and retries, and the lanes take the grants (or, the store away, go by their share) between packets again.
/// A block a fleet rule decides (<c>action = "block"</c>) is published with the round; the fleet's blocks, read when
/// they changed (and on the first round that reaches the store, so a restarted host gets the live ones), go into
/// this host's kernel block set through the same path as <c>shaperctl block add</c> (stored, listed, restored).
/// </summary>
internal sealed class FleetLoop : IAsyncDisposable
{
    private readonly EngineRunner _runner;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly RedisFleetStore _store;
    private readonly FleetSettings _settings;
    private readonly CancellationTokenSource _stop = new();
    private readonly HashSet<string> _blockingRules;
    private readonly Func<IPNetwork, TimeSpan, Task<string?>> _install;
    private readonly Dictionary<string, long> _installed = new(StringComparer.Ordinal); // fleet blocks installed here, by network: their end (Unix ms)
    private Task _loop = Task.CompletedTask;

    private FleetLoop(
        FleetSettings settings,
        RedisFleetStore store,
        FleetSync sync,
        EngineRunner runner,
        TimeProvider time,
        ILogger logger,
        IReadOnlyList<Rule> rules,
        Func<IPNetwork, TimeSpan, Task<string?>> install)
    {
        Rules = [.. rules.Select(r => r.Name)];
        _blockingRules = new HashSet<string>(rules.Where(r => r.Action == RuleAction.Block).Select(r => r.Name), StringComparer.Ordinal);
        _install = install;
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

    /// <summary>Blocks of the fleet installed on this host since start.</summary>
    public long BlocksInstalled { get; private set; }

    /// <summary>
    /// Connects (in the background when Redis is not up) and starts the rounds for the fleet rules of
    /// <paramref name="rules"/>; the fleet's blocks go into the kernel through <paramref name="install"/>.
    /// </summary>
    public static async Task<FleetLoop> StartAsync(
        FleetSettings settings, IReadOnlyList<Rule> rules, EngineRunner runner, TimeProvider time, ILogger logger, Func<IPNetwork, TimeSpan, Task<string?>> install)
    {
        var call = StoreCallOptions.ForSync(settings.Sync);
        var breaker = new CircuitBreaker(BreakerOptions.ForSync(settings.Sync, settings.SlowCall), time);
        var store = await RedisFleetStore.ConnectAsync(settings.Redis, settings.EffectiveHost, call.AttemptTimeout).ConfigureAwait(false);
        var fleetRules = rules.Where(r => r.Scope == RuleScope.Fleet).ToList();
        var sync = new FleetSync(settings, fleetRules, store, new StoreCallPolicy(call, breaker, new RetryQuota(), time, new Random()), time);
        var loop = new FleetLoop(settings, store, sync, runner, time, logger, fleetRules, install);
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
        if (settings.Hosts == 1)
        {
            Log.FleetOneHost(logger);
        }

        loop._loop = Task.Run(() => loop.RunAsync(loop._stop.Token));
        return loop;
    }

    /// <summary>
    /// A block an engine decided (from its capture thread): published to the fleet with the next round when
    /// <paramref name="rule"/> is a fleet rule, else nothing.
    /// </summary>
    public void Publish(string rule, IpFamily family, UInt128 address, int prefixLength, long durationNs)
    {
        if (!_blockingRules.Contains(rule) || durationNs <= 0)
        {
            return;
        }

        var ip = new HeldKey(family, address, prefixLength, 0, KeyKind.Source).ToAddress();

        var network = new IPNetwork(ip, prefixLength);
        var endsMs = _time.GetUtcNow().ToUnixTimeMilliseconds() + (durationNs / 1_000_000);
        Sync.Publish(new FleetBlock(network.ToString(), endsMs));
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
        if (round.Blocks is { } blocks)
        {
            Install(blocks);
        }

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

    /// <summary>
    /// Installs the fleet's blocks this host does not hold yet, or holds with an earlier end (its own, when it decided
    /// them, are in already: the same end comes back and is skipped).
    /// </summary>
    private void Install(IReadOnlyList<FleetBlock> blocks)
    {
        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var ended in _installed.Where(b => b.Value <= nowMs).Select(b => b.Key).ToList())
        {
            _installed.Remove(ended);
        }

        foreach (var block in blocks)
        {
            var left = block.EndsUnixMs - nowMs;
            if (left < 1000 || (_installed.TryGetValue(block.Network, out var end) && end >= block.EndsUnixMs) || !IPNetwork.TryParse(block.Network, out var network))
            {
                continue; // under a second left, held already, or not a network (not written by a shaperd)
            }

            _installed[block.Network] = block.EndsUnixMs;
            BlocksInstalled++;
            var ttl = TimeSpan.FromMilliseconds(left);
            _ = _install(network, ttl).ContinueWith(
                t =>
                {
                    var error = t.IsCompletedSuccessfully ? t.Result : t.Exception?.GetBaseException().Message ?? "cancelled";
                    Log.FleetBlock(_logger, block.Network, ttl.TotalSeconds, error ?? "installed");
                },
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }
}
