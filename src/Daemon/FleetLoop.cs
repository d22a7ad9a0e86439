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
/// this host's kernel block set through the same path as <c>shaperctl block add</c> (stored with their source
/// <c>fleet:HOST</c>, listed, restored).
/// <para>
/// Deletions: <c>shaperctl block del</c> of a block the fleet knows (installed from it, or decided by a fleet rule)
/// is sent to the store with the next round (<see cref="Delete"/>). The fleet's set is the truth for the blocks this
/// host holds because of the fleet: when a read of it lacks one of them (deleted on another host, or refused because
/// it was deleted after it was decided), this host removes it too. A host started again republishes its fleet
/// rules' stored blocks with when they were decided, so one deleted while it was away is refused and removed.
/// </para>
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
    private readonly BlockService _blocks;
    private readonly Dictionary<string, TimeSpan> _blockFor;
    private readonly Lock _heldLock = new(); // the rounds and block del (the control socket) both change _held
    private readonly Dictionary<string, long> _held = new(StringComparer.Ordinal); // blocks here the fleet knows, by network: their end (Unix ms)
    private Task _loop = Task.CompletedTask;

    private FleetLoop(
        FleetSettings settings,
        RedisFleetStore store,
        FleetSync sync,
        EngineRunner runner,
        TimeProvider time,
        ILogger logger,
        IReadOnlyList<Rule> rules,
        BlockService blocks)
    {
        Rules = [.. rules.Select(r => r.Name)];
        _blockingRules = new HashSet<string>(rules.Where(r => r.Action == RuleAction.Block).Select(r => r.Name), StringComparer.Ordinal);
        _blockFor = rules.Where(r => r.Action == RuleAction.Block).ToDictionary(r => r.Name, r => r.BlockFor ?? TimeSpan.Zero, StringComparer.Ordinal);
        _blocks = blocks;
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

    /// <summary>Blocks of the fleet removed from this host since start because the fleet deleted them.</summary>
    public long BlocksRemoved { get; private set; }

    /// <summary>
    /// Connects (in the background when Redis is not up) and starts the rounds for the fleet rules of
    /// <paramref name="rules"/>; the fleet's blocks go into the kernel through <paramref name="blocks"/>.
    /// </summary>
    public static async Task<FleetLoop> StartAsync(
        FleetSettings settings, IReadOnlyList<Rule> rules, EngineRunner runner, TimeProvider time, ILogger logger, BlockService blocks)
    {
        var call = StoreCallOptions.ForSync(settings.Sync);
        var breaker = new CircuitBreaker(BreakerOptions.ForSync(settings.Sync, settings.SlowCall), time);
        var store = await RedisFleetStore.ConnectAsync(settings.Redis, settings.EffectiveHost, call.AttemptTimeout).ConfigureAwait(false);
        var fleetRules = rules.Where(r => r.Scope == RuleScope.Fleet).ToList();
        var sync = new FleetSync(settings, fleetRules, store, new StoreCallPolicy(call, breaker, new RetryQuota(), time, new Random()), time);
        var loop = new FleetLoop(settings, store, sync, runner, time, logger, fleetRules, blocks);
        loop.Resume();
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
        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        Sync.Publish(new FleetBlock(network.ToString(), nowMs + (durationNs / 1_000_000), DecidedUnixMs: nowMs));
    }

    /// <summary>
    /// After <c>shaperctl block del</c> removed <paramref name="network"/> here: when the block was the fleet's
    /// (<paramref name="source"/> a fleet install or a fleet rule), its deletion goes to the store with the next round,
    /// and true; else nothing (an operator's block, or another rule's, was never shared).
    /// </summary>
    public bool Delete(IPNetwork network, string? source)
    {
        if (!IsFleets(source))
        {
            return false;
        }

        var text = network.ToString();
        lock (_heldLock)
        {
            _held.Remove(text);
        }

        Sync.Delete(text);
        Log.FleetBlockDeleting(_logger, text);
        return true;
    }

    /// <summary>True when a block of <paramref name="source"/> is one the fleet shares: installed from it, or decided by one of its rules here.</summary>
    private bool IsFleets(string? source) => BlockSource.Parse(source) switch
    {
        ("fleet", _) => true,
        ("rule", var rule) => _blockingRules.Contains(rule),
        _ => false,
    };

    /// <summary>
    /// At start (and after a reload that changed the fleet): the stored blocks the fleet knows. Those installed from it
    /// are held as the fleet's; a fleet rule's are published again with when they were decided (their end less the
    /// rule's block_for), so the store refuses any deleted since, and they are held as the fleet's once it answered.
    /// </summary>
    private void Resume()
    {
        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var (network, source) in _blocks.Sources(IsFleets))
        {
            if (_blocks.LeftOf(network) is not { } left)
            {
                continue;
            }

            var endMs = nowMs + (long)left.TotalMilliseconds;
            if (BlockSource.Parse(source) is ("rule", var rule))
            {
                Sync.Publish(new FleetBlock(network.ToString(), endMs, DecidedUnixMs: endMs - (long)_blockFor[rule].TotalMilliseconds));
            }
            else
            {
                lock (_heldLock)
                {
                    _held[network.ToString()] = endMs;
                }
            }
        }
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
        if (round.Published is { } published)
        {
            lock (_heldLock)
            {
                foreach (var block in published)
                {
                    _held[block.Network] = Math.Max(_held.GetValueOrDefault(block.Network), block.EndsUnixMs);
                }
            }
        }

        if (round.Blocks is { } blocks)
        {
            Install(blocks);
            RemoveDeleted(blocks);
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
        foreach (var block in blocks)
        {
            var left = block.EndsUnixMs - nowMs;
            if (left < 1000 || !IPNetwork.TryParse(block.Network, out var network))
            {
                continue; // under a second left, or not a network (not written by a shaperd)
            }

            lock (_heldLock)
            {
                if (_held.TryGetValue(block.Network, out var end) && end >= block.EndsUnixMs)
                {
                    continue; // held already
                }

                _held[block.Network] = block.EndsUnixMs;
            }

            BlocksInstalled++;
            var ttl = TimeSpan.FromMilliseconds(left);
            _ = _blocks.AddAsync(network, ttl, BlockSource.Fleet(block.Origin)).ContinueWith(
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

    /// <summary>
    /// Removes the blocks this host holds because of the fleet that the fleet's set (read whole, <paramref name="blocks"/>)
    /// no longer has: deleted on another host, or refused because they were deleted after they were decided. A block an
    /// operator has since replaced here (its source is no longer the fleet's) stays.
    /// </summary>
    private void RemoveDeleted(IReadOnlyList<FleetBlock> blocks)
    {
        var live = new HashSet<string>(blocks.Select(b => b.Network), StringComparer.Ordinal);
        List<string> gone;
        lock (_heldLock)
        {
            gone = [.. _held.Where(b => !live.Contains(b.Key)).Select(b => b.Key)];
            foreach (var network in gone)
            {
                _held.Remove(network);
            }
        }

        foreach (var text in gone)
        {
            if (!IPNetwork.TryParse(text, out var network) || !IsFleets(_blocks.SourceOf(network)))
            {
                continue; // ended here too, or an operator's block now
            }

            var (had, error) = _blocks.Remove(network);
            if (had)
            {
                BlocksRemoved++;
                Log.FleetBlockDeleted(_logger, text, error is null ? "removed" : "the kernel kept it: " + error);
            }
        }
    }
}
