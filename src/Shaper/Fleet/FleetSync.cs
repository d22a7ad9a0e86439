using Shaper.Engine;
using Shaper.Metrics;
using Shaper.Rules;

namespace Shaper.Fleet;

/// <summary>
/// One host's exchanges with the fleet store. Each round takes the hits and demand the engines gathered since the
/// last one, adds what earlier failed rounds could not send (kept per key, not dropped as Kong drops them, up to
/// <see cref="MaxCarriedKeys"/>; beyond that counted in <see cref="FleetStatus.DroppedHits"/>), and makes one call
/// through the <see cref="StoreCallPolicy"/> (breaker, timeouts, retries). When it succeeds the hosts go by the
/// grants; when the breaker refuses, or rounds have failed for longer than <see cref="GraceSyncs"/> syncs, by their
/// share (one slow or failed round on a busy machine keeps the grants: a key whose grant is spent waits for the
/// next, and once that is overdue goes on at the rate its last grant set aside, instead of every key getting a fresh
/// share of the limit). Either way the hits wait for the next round, the
/// hits admitted by grants to be charged and those admitted under the share to be recorded: so when the store
/// returns, the hits of the outage reach it. Rounds run one at a time, off the packet path.
/// </summary>
public sealed class FleetSync
{
    /// <summary>Most keys whose hits wait for the store while it is away.</summary>
    public const int MaxCarriedKeys = 100_000;

    /// <summary>How many syncs after the last round that reached the store failed rounds keep the hosts on their grants.</summary>
    public const int GraceSyncs = 3;

    private readonly FleetSettings _settings;
    private readonly Dictionary<string, Rule> _rules;
    private readonly Func<IReadOnlyList<FleetDelta>, IReadOnlyList<FleetBlock>, IReadOnlyList<string>, long, long, long, CancellationToken, Task<FleetExchange>> _exchange;
    private readonly Func<bool> _connected;
    private readonly StoreCallPolicy _policy;
    private readonly TimeProvider _time;
    private readonly Dictionary<(string Rule, HeldKey Key), (long Hits, long Demand, long Carried)> _carried = [];
    private readonly Dictionary<(string Rule, HeldKey Key), (FleetGrant Grant, long AtUs)> _lastGrants = [];
    private readonly LatencyWindow _latency = new(1024);
    private readonly Lock _lock = new(); // rounds write, status reads
    private long _lastSuccessUs;
    private long _syncs;
    private long _failures;
    private long _keysSent;
    private int _lastKeys;
    private long _droppedHits;
    private bool _shared;
    private string? _lastError;
    private List<FleetBlock> _publish = [];
    private List<string> _delete = [];
    private long _blocksVersion = -1;
    private long _published;
    private long _deleted;

    /// <summary>Creates the sync of <paramref name="rules"/> (the fleet rules, full limits) over <paramref name="store"/>.</summary>
    public FleetSync(FleetSettings settings, IEnumerable<Rule> rules, RedisFleetStore store, StoreCallPolicy policy, TimeProvider time)
        : this(settings, rules, policy, time, null!, () => store.IsConnected)
    {
        ArgumentNullException.ThrowIfNull(store);
        _exchange = (deltas, publish, delete, version, nowUs, intervalUs, ct) => store.ExchangeAsync(deltas, publish, delete, KeepDeletedMs, version, _rules, _settings.Sync, nowUs, intervalUs, ct);
    }

    private FleetSync(
        FleetSettings settings,
        IEnumerable<Rule> rules,
        StoreCallPolicy policy,
        TimeProvider time,
        Func<IReadOnlyList<FleetDelta>, IReadOnlyList<FleetBlock>, IReadOnlyList<string>, long, long, long, CancellationToken, Task<FleetExchange>> exchange,
        Func<bool> connected)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(rules);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(time);
        _settings = settings;
        _rules = rules.ToDictionary(r => r.Name, StringComparer.Ordinal);
        _policy = policy;
        _time = time;
        _exchange = exchange;
        _connected = connected;

        // A deletion outlives every block decided before it: the longest block_for of the blocking rules (at least a minute).
        KeepDeletedMs = (long)Math.Max(
            TimeSpan.FromMinutes(1).TotalMilliseconds,
            _rules.Values.Where(r => r.Action == RuleAction.Block).Select(r => (r.BlockFor ?? TimeSpan.Zero).TotalMilliseconds).DefaultIfEmpty(0).Max());
    }

    /// <summary>How long the store keeps a deletion, so that a block decided before it is not published again (ms).</summary>
    public long KeepDeletedMs { get; }

    /// <summary>Raised when the sync moves between shared (the store answers) and share-only (it does not), with the reason.</summary>
    public event Action<bool, string>? ModeChanged;

    /// <summary>True while the hosts go by the store's grants: the last round reached it, or failed within the grace.</summary>
    public bool Shared
    {
        get
        {
            lock (_lock)
            {
                return _shared;
            }
        }
    }

    /// <summary>Most blocks waiting to be published while the store is away.</summary>
    public const int MaxPendingBlocks = 100_000;

    /// <summary>Blocks published to the store since start.</summary>
    public long Published
    {
        get
        {
            lock (_lock)
            {
                return _published;
            }
        }
    }

    /// <summary>Queues a block this host decided for the next round to publish (from any thread); beyond <see cref="MaxPendingBlocks"/> waiting, dropped.</summary>
    public void Publish(FleetBlock block)
    {
        lock (_lock)
        {
            if (_publish.Count < MaxPendingBlocks)
            {
                _publish.Add(block);
            }
        }
    }

    /// <summary>Block deletions sent to the store since start.</summary>
    public long Deleted
    {
        get
        {
            lock (_lock)
            {
                return _deleted;
            }
        }
    }

    /// <summary>
    /// Queues the deletion of a fleet block (the network's CIDR text, from any thread) for the next round: the store
    /// drops it, every host removes it with its next read, and no host publishes it again; beyond
    /// <see cref="MaxPendingBlocks"/> waiting, dropped.
    /// </summary>
    public void Delete(string network)
    {
        ArgumentNullException.ThrowIfNull(network);
        lock (_lock)
        {
            if (_delete.Count < MaxPendingBlocks)
            {
                _delete.Add(network);
            }
        }
    }

    /// <summary>The store call policy (its breaker can be set by hand).</summary>
    public StoreCallPolicy Policy => _policy;

    /// <summary>Runs one round with <paramref name="harvested"/>, this round's hits and demand from the engines.</summary>
    public async Task<FleetRound> ExchangeAsync(IReadOnlyList<FleetDelta> harvested, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(harvested);
        var nowUs = (_time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks / 10;
        List<FleetDelta> deltas;
        long intervalUs;
        List<FleetBlock> publish;
        List<string> delete;
        long knownVersion;
        lock (_lock)
        {
            publish = _publish;
            _publish = [];
            delete = _delete;
            _delete = [];
            knownVersion = _blocksVersion;

            // This round's hits, and beside them the hits of rounds that failed.
            var fresh = new Dictionary<(string Rule, HeldKey Key), (long Hits, long Demand, long Carried)>();
            foreach (var delta in harvested)
            {
                if (_rules.ContainsKey(delta.Rule))
                {
                    var id = (delta.Rule, delta.Key);
                    var earlier = fresh.GetValueOrDefault(id);
                    fresh[id] = (earlier.Hits + delta.Hits, earlier.Demand + delta.Demand, earlier.Carried + delta.Carried);
                }
            }

            deltas = new List<FleetDelta>(fresh.Count + _carried.Count);
            foreach (var ((rule, key), (hits, demand, share)) in fresh)
            {
                var carried = _carried.Remove((rule, key), out var old) ? old : default;
                deltas.Add(new FleetDelta(rule, key, hits + carried.Hits, demand + carried.Demand, share + carried.Carried));
            }

            foreach (var ((rule, key), (hits, demand, share)) in _carried)
            {
                deltas.Add(new FleetDelta(rule, key, hits, demand, share));
            }

            _carried.Clear();

            intervalUs = _lastSuccessUs == 0 ? _settings.Sync.Ticks / 10 : Math.Max(1, nowUs - _lastSuccessUs);
        }

        var started = _time.GetTimestamp();
        try
        {
            var exchange = await _policy.ExecuteAsync(ct => _exchange(deltas, publish, delete, knownVersion, nowUs, intervalUs, ct), cancellationToken).ConfigureAwait(false);
            bool changed;
            lock (_lock)
            {
                for (var i = 0; i < exchange.Grants.Count; i++)
                {
                    // The answer to a key reported idle has no share and no grant, by definition: the counters go on
                    // showing the share and grant of the key's last answer to traffic, beside the fleet's fresh figures.
                    var grant = exchange.Grants[i];
                    var id = (grant.Rule, grant.Key);
                    if (exchange.Grants.Count == deltas.Count && deltas[i] is { Hits: 0, Demand: 0, Carried: 0 } && _lastGrants.TryGetValue(id, out var last))
                    {
                        grant = grant with { Share = last.Grant.Share, Allowance = last.Grant.Allowance };
                    }

                    _lastGrants[id] = (grant, nowUs);
                }

                if (exchange.Grants.Count < _lastGrants.Count)
                {
                    // Keys not sent for a while (idle, or gone to other hosts): their figures are stale, and the store forgets them too.
                    var stale = nowUs - (GrantShownFor.Ticks / 10);
                    foreach (var id in _lastGrants.Where(g => g.Value.AtUs < stale).Select(g => g.Key).ToList())
                    {
                        _lastGrants.Remove(id);
                    }
                }

                _blocksVersion = exchange.BlocksVersion;
                _published += publish.Count;
                _deleted += delete.Count;
                _latency.Add(_time.GetElapsedTime(started).TotalMilliseconds);
                _lastSuccessUs = nowUs;
                _syncs++;
                _keysSent += deltas.Count;
                _lastKeys = deltas.Count;
                changed = !_shared;
                _shared = true;
                _lastError = null;
            }

            if (changed)
            {
                ModeChanged?.Invoke(true, deltas.Count == 0 ? "store reached" : $"store reached; {deltas.Count} keys' hits sent");
            }

            return new FleetRound(true, exchange.Grants, deltas.Count, null, true, exchange.Blocks, publish);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var error = ex is BreakerOpenException ? ex.Message : $"{ex.GetType().Name}: {ex.Message.Split('\n')[0]}";
            bool changed;
            bool byGrants;
            lock (_lock)
            {
                foreach (var delta in deltas)
                {
                    Carry(delta);
                }

                // The blocks wait for the next round, before any queued since.
                publish.AddRange(_publish.Take(MaxPendingBlocks - Math.Min(publish.Count, MaxPendingBlocks)));
                _publish = publish;
                delete.AddRange(_delete.Take(MaxPendingBlocks - Math.Min(delete.Count, MaxPendingBlocks)));
                _delete = delete;

                _syncs++;
                _failures++;
                _lastKeys = deltas.Count;
                byGrants = _shared && ex is not BreakerOpenException
                    && _policy.Breaker.State is BreakerState.Closed or BreakerState.HalfOpen or BreakerState.Disabled
                    && nowUs - _lastSuccessUs <= GraceSyncs * (_settings.Sync.Ticks / 10);
                changed = (_shared && !byGrants) || (!_shared && _lastError is null && _failures == 1);
                _shared = byGrants;
                _lastError = error;
            }

            if (changed)
            {
                ModeChanged?.Invoke(false, error);
            }

            return new FleetRound(false, [], deltas.Count, error, byGrants);
        }
    }

    /// <summary>How long after its last exchange a key's fleet-wide figures are still shown (<see cref="LastGrants"/>).</summary>
    public static readonly TimeSpan GrantShownFor = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Each key's last answer from the store for <paramref name="rule"/> (the fleet-wide figures: room, share, what every
    /// host admitted) with its age, by the key's text as <c>shaperctl counters</c> shows it; keys not exchanged for
    /// <see cref="GrantShownFor"/> are left out. A key this host reported idle keeps the share and grant of its last
    /// answer to traffic.
    /// </summary>
    public Dictionary<string, (FleetGrant Grant, TimeSpan Age)> LastGrants(string rule)
    {
        var nowUs = (_time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks / 10;
        var result = new Dictionary<string, (FleetGrant, TimeSpan)>(StringComparer.Ordinal);
        lock (_lock)
        {
            foreach (var ((name, key), (grant, atUs)) in _lastGrants)
            {
                if (name == rule && nowUs - atUs <= GrantShownFor.Ticks / 10)
                {
                    result[key.ToString()] = (grant, TimeSpan.FromTicks(Math.Max(0, nowUs - atUs) * 10));
                }
            }
        }

        return result;
    }

    /// <summary>The sync's state now.</summary>
    public FleetStatus Status()
    {
        var breaker = _policy.Breaker.Snapshot();
        lock (_lock)
        {
            return new FleetStatus(
                _settings.EffectiveHost,
                _shared,
                _connected(),
                breaker,
                _syncs,
                _failures,
                _policy.Retries,
                _policy.Timeouts,
                _policy.Quota.Available,
                _policy.Quota.Refused,
                _latency.Percentile(0.5),
                _latency.Percentile(0.99),
                _lastKeys,
                _keysSent,
                _carried.Count,
                _droppedHits,
                _lastError);
        }
    }

    private void Carry(FleetDelta delta)
    {
        var id = (delta.Rule, delta.Key);
        if (_carried.TryGetValue(id, out var earlier))
        {
            _carried[id] = (earlier.Hits + delta.Hits, earlier.Demand + delta.Demand, earlier.Carried + delta.Carried);
        }
        else if (_carried.Count < MaxCarriedKeys)
        {
            _carried[id] = (delta.Hits, delta.Demand, delta.Carried);
        }
        else
        {
            _droppedHits += delta.Hits + delta.Carried;
        }
    }
}
