using System.Net;
using Microsoft.Extensions.Logging;
using Shaper.Engine;
using Shaper.Firewall;
using Shaper.Metrics;
using Shaper.Rules;

namespace Shaper.Daemon;

/// <summary>
/// The observe rules' drop and reject sets on the daemon's side: a key the engine holds (<see cref="RuleEngine.KeyHeld"/>)
/// goes into its rule's kernel set with a time to live that ends when the engine's hold ends, through a
/// <see cref="BlockBatcher"/> per rule (the group commit and netlink batches of the blocks; one per rule because each
/// rule has its own sets). The hold ends when the engine's does: the release thread takes the key out at that moment
/// (netlink DESTROYSETELEM), because the element's own timeout counts in jiffies (4 ms at HZ = 250) from the commit,
/// and a packet arriving in that slack would be dropped by the kernel while the limiter counts it as passed. The
/// element's timeout, a little longer, only bounds a release that never comes (a daemon killed). Nothing is stored:
/// a hold lasts a retry-after, and a restart starts every limiter afresh. Without nftables (backend none, iptables)
/// nothing is installed.
/// </summary>
internal sealed class HoldService : IDisposable
{
    private readonly NftBackend? _backend;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new(); // guards the batcher table between reloads and disposal
    /// <summary>How much longer than the hold an element's own timeout runs: the release comes first.</summary>
    private static readonly TimeSpan ReleaseSlack = TimeSpan.FromMilliseconds(20);

    private readonly PriorityQueue<(string Kind, IPNetwork Network), long> _due = new();
    private readonly Dictionary<(string Kind, IPNetwork Network), long> _until = [];
    private readonly object _releaseLock = new(); // a monitor (wait and pulse); taken once per hold and per release, never per packet
    private readonly Thread? _releaser;
    private bool _stopping;
    private Dictionary<string, BlockBatcher> _batchers = new(StringComparer.Ordinal);
    private long _installed;
    private long _refused;
    private long _released;

    /// <summary>Holds into <paramref name="backend"/>; null installs nothing.</summary>
    public HoldService(NftBackend? backend, ILogger logger, TimeProvider time)
    {
        _backend = backend;
        _logger = logger;
        _time = time;
        if (backend is not null)
        {
            _releaser = new Thread(Release) { IsBackground = true, Name = "shaper-release" };
            _releaser.Start();
        }
    }

    /// <summary>Keys taken out of their set when their hold ended.</summary>
    public long Released => Interlocked.Read(ref _released);

    /// <summary>Keys put into (or kept longer in) a drop or reject set since start.</summary>
    public long Installed => Interlocked.Read(ref _installed);

    /// <summary>Keys the kernel refused since start.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Detection (the capture timestamp of the packet that crossed) to the key held in the kernel.</summary>
    public LatencyWindow DetectToHold { get; } = new(4096);

    /// <summary>
    /// Readies a batcher for every holding rule of <paramref name="config"/> (at start and on each reload, off the
    /// engine thread), and runs each once with a hold of no time so its first real hold finds it warm.
    /// </summary>
    public void Prepare(ShaperConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (_backend is not { } backend)
        {
            return;
        }

        lock (_lock)
        {
            var batchers = new Dictionary<string, BlockBatcher>(_batchers, StringComparer.Ordinal);
            foreach (var rule in config.Rules.Where(NftHoldSets.Holds))
            {
                var kind = NftHoldSets.Kind(rule);
                if (!batchers.ContainsKey(kind))
                {
                    var batcher = new BlockBatcher(holds => backend.AddHolds(kind, holds), (outcomes, at) => Committed(kind, outcomes, at), _time);
                    batcher.Add(new BlockRequest(new IPNetwork(IPAddress.Any, 0), TimeSpan.Zero));
                    batchers[kind] = batcher;
                }
            }

            // Swapped whole: the engine thread reads the table without the lock.
            _batchers = batchers;
        }
    }

    /// <summary>A hold from the engine thread: only queued here.</summary>
    public void Post(KeyHold hold)
    {
        var kind = (hold.Action == RuleAction.Reject ? "reject_" : "drop_") + hold.Rule;
        if (!_batchers.TryGetValue(kind, out var batcher))
        {
            return;
        }

        var now = (_time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;
        var ttl = TimeSpan.FromTicks((hold.UntilNs - now) / 100);
        if (ttl < TimeSpan.FromMilliseconds(1))
        {
            return; // over by the time it got here: the limiter passes the key again
        }

        foreach (var network in NftHoldSets.Networks(hold.Key))
        {
            batcher.Add(new BlockRequest(network, ttl + ReleaseSlack, hold.Rule, hold.DetectedNs));
            lock (_releaseLock)
            {
                _until[(kind, network)] = hold.UntilNs;
                _due.Enqueue((kind, network), hold.UntilNs);
                Monitor.Pulse(_releaseLock);
            }
        }
    }

    /// <summary>Installs what is queued; stops the release thread (the elements left expire by their timeout).</summary>
    public void Dispose()
    {
        lock (_releaseLock)
        {
            _stopping = true;
            Monitor.Pulse(_releaseLock);
        }

        _releaser?.Join();

        lock (_lock)
        {
            foreach (var batcher in _batchers.Values)
            {
                batcher.Dispose();
            }

            _batchers = new(StringComparer.Ordinal);
        }
    }

    /// <summary>
    /// The release thread: sleeps until the earliest hold ends, then takes out every key whose hold has ended and was
    /// not extended since (a later hold of the same key moved its end), one netlink transaction per rule.
    /// </summary>
    private void Release()
    {
        _ = Threading.ThreadNice.Set(Threading.ThreadNice.EnforcementPath);
        var ended = new Dictionary<string, List<IPNetwork>>(StringComparer.Ordinal);
        lock (_releaseLock)
        {
            while (!_stopping)
            {
                if (!_due.TryPeek(out _, out var due))
                {
                    Monitor.Wait(_releaseLock);
                    continue;
                }

                var now = (_time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;
                if (due > now)
                {
                    Monitor.Wait(_releaseLock, TimeSpan.FromTicks(Math.Max((due - now) / 100, TimeSpan.TicksPerMillisecond / 4)));
                    continue;
                }

                while (_due.TryPeek(out var key, out var at) && at <= now)
                {
                    _due.Dequeue();
                    if (_until.TryGetValue(key, out var until) && until == at)
                    {
                        _until.Remove(key);
                        if (!ended.TryGetValue(key.Kind, out var networks))
                        {
                            ended[key.Kind] = networks = [];
                        }

                        networks.Add(key.Network);
                    }
                }

                Monitor.Exit(_releaseLock);
                try
                {
                    foreach (var (kind, networks) in ended)
                    {
                        if (networks.Count > 0 && _backend!.TryReleaseHolds(kind, networks, out var error))
                        {
                            if (error is null)
                            {
                                Interlocked.Add(ref _released, networks.Count);
                            }
                            else
                            {
                                Log.KernelFailed(_logger, $"releasing {networks.Count} keys of {kind}: {error}");
                            }
                        }

                        networks.Clear();
                    }
                }
                finally
                {
                    Monitor.Enter(_releaseLock);
                }
            }
        }
    }

    private void Committed(string kind, IReadOnlyList<BlockOutcome> outcomes, DateTimeOffset at)
    {
        var nowNs = (at - DateTimeOffset.UnixEpoch).Ticks * 100;
        var refused = 0;
        string? reason = null;
        foreach (var (hold, error) in outcomes)
        {
            if (hold.Ttl <= TimeSpan.Zero)
            {
                continue; // the rehearsal
            }

            if (error is not null)
            {
                refused++;
                reason = error;
                continue;
            }

            Interlocked.Increment(ref _installed);
            if (hold.DetectedNs > 0)
            {
                DetectToHold.Add((nowNs - hold.DetectedNs) / 1e6);
            }
        }

        if (refused > 0)
        {
            Interlocked.Add(ref _refused, refused);
            Log.HoldsRefused(_logger, refused, kind, reason!);
        }
    }
}
