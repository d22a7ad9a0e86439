using System.Net;
using Microsoft.Extensions.Logging;
using Shaper.Firewall;

namespace Shaper.Daemon;

/// <summary>
/// Keeps the kernel as the daemon wants it: the table, its chains and rules, its sets, and every block the store
/// holds. On nftables a thread of its own sleeps on nftables' change notifications and reads them as they
/// arrive; when another process changed the table (the daemon's own transactions cost that read and nothing more),
/// and once every <see cref="QuietPeriod"/> without any, it also asks whether the table's fixed chain is there (one
/// GETCHAIN, the same cost at any size). It wakes for nothing else. On a difference it repairs, counts the repair by kind
/// and logs it: a deleted table is installed again with every block; a flushed or deleted chain, a changed rule
/// or a deleted set is applied again (one transaction that keeps the sets and their contents); deleted block
/// elements are added again with the time they have left; lost notifications make it compare every block set
/// with the store (above <see cref="CompareLimit"/> blocks, install every block again). Its own bulk installs it
/// makes without listening, so their notifications cannot overflow the socket; the block installer's batches are
/// committed without listening too when nothing else can have been committed meanwhile (see
/// <see cref="NftNetlink.ListenedBy"/>), and when that cannot be ruled out the monitor wakes it as for lost
/// notifications. On iptables (no notifications) it looks every <see cref="Period"/>, for a deleted ruleset only.
/// </summary>
internal sealed class KernelReconciler : IDisposable
{
    /// <summary>
    /// Above this many blocks, lost notifications make it install every block again instead of comparing the sets
    /// with the store: a set element dump walks the set's hash table from the start for every answer it fills, so
    /// its cost grows with the square of the set's size (a million elements: 48 s of kernel time here), while
    /// adding a million elements that are there costs about 0.6 s. At this size the dump costs about 0.2 s.
    /// </summary>
    public const int CompareLimit = 65536;

    /// <summary>How often it looks without change notifications (iptables).</summary>
    public static readonly TimeSpan Period = TimeSpan.FromMilliseconds(250);

    /// <summary>How often it looks with change notifications when none arrives: a check that they still arrive.</summary>
    public static readonly TimeSpan QuietPeriod = TimeSpan.FromSeconds(10);

    private readonly IFirewallBackend _backend;
    private readonly NftMonitor? _monitor;
    private readonly BlockService _blocks;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new(); // one look at a time, from the timer or a test
    private readonly Dictionary<string, long> _repairs = new(StringComparer.Ordinal);
    private ITimer? _timer;
    private Thread? _watcher;
    private Shaper.Interop.WakeEvent? _stop;

    public KernelReconciler(IFirewallBackend backend, NftMonitor? monitor, BlockService blocks, ILogger logger, TimeProvider time)
    {
        _backend = backend;
        _monitor = monitor;
        _blocks = blocks;
        _logger = logger;
        _time = time;
    }

    /// <summary>The kinds of repair, as status and the metrics name them.</summary>
    public static IReadOnlyList<string> Kinds { get; } = ["table", "chain", "rule", "set", "set_flushed", "element", "unknown"];

    /// <summary>False after a repair failed, until one succeeds.</summary>
    public bool Healthy { get; private set; } = true;

    /// <summary>Repairs since start, by kind.</summary>
    public IReadOnlyDictionary<string, long> Repairs
    {
        get
        {
            lock (_repairs)
            {
                return Kinds.ToDictionary(k => k, k => _repairs.GetValueOrDefault(k), StringComparer.Ordinal);
            }
        }
    }

    /// <summary>Starts looking: when notifications arrive (and every <see cref="QuietPeriod"/>), or every <see cref="Period"/> without them.</summary>
    public void Start()
    {
        if (_monitor is null)
        {
            _timer = _time.CreateTimer(_ => Reconcile(), null, Period, Period);
            return;
        }

        _stop = new Shaper.Interop.WakeEvent();
        _watcher = new Thread(Watch) { IsBackground = true, Name = "shaper-reconcile" };
        _watcher.Start();
    }

    public void Dispose()
    {
        _timer?.Dispose();
        _timer = null;
        if (_watcher is { } watcher)
        {
            _stop!.Set();
            watcher.Join();
            _watcher = null;
            _stop.Dispose();
        }

        _monitor?.Dispose();
    }

    /// <summary>One look: notices what differs and repairs it.</summary>
    public void Reconcile()
    {
        if (!_lock.TryEnter())
        {
            return; // a slow kernel must not stack looks up
        }

        try
        {
            Look(_monitor?.Drain() ?? new NftChanges());
        }
        finally
        {
            _lock.Exit();
        }
    }

    /// <summary>The watcher thread: sleeps on the notification socket, looks when it is readable or after <see cref="QuietPeriod"/>.</summary>
    private void Watch()
    {
        var stop = _stop!;
        while (true)
        {
            var notified = _monitor!.Wait(QuietPeriod, stop);
            if (stop.IsSet)
            {
                return;
            }

            // Waits for a look in progress (a test's) instead of skipping: the notifications it left must be read.
            lock (_lock)
            {
                var changes = _monitor.Drain();
                if (notified && changes.IsEmpty)
                {
                    // Only the daemon's own transactions (each block batch) or another table's: nothing to look at,
                    // and no request to hold the netlink socket the block installer shares.
                    continue;
                }

                Look(changes);
            }
        }
    }

    /// <summary>One look, under the lock, given what others changed since the last.</summary>
    private void Look(NftChanges changes)
    {
        if (!_backend.IsInstalled())
        {
            Repair("table", "the table was deleted", () =>
            {
                var error = _backend.Reinstall();
                if (error is null)
                {
                    _ = Quietly(_blocks.Reinstall);
                }

                return error;
            });
            return;
        }

        if (_backend is not NftBackend nft)
        {
            return;
        }

        var kinds = changes.Kinds;
        var objects = kinds.Contains(NftChangeKind.ObjectChanged);
        var unknown = kinds.Contains(NftChangeKind.Unknown);
        if (kinds.Contains(NftChangeKind.ChainDeleted) || kinds.Contains(NftChangeKind.ChainFlushed))
        {
            Repair("chain", "a chain was flushed or deleted", nft.Repair);
        }
        else if (kinds.Contains(NftChangeKind.RuleChanged))
        {
            Repair("rule", "a rule was changed", nft.Repair);
        }
        else if (objects)
        {
            Repair("set", "a set or counter was deleted", nft.Repair);
        }
        else if (unknown)
        {
            // Notifications were lost (often to the daemon's own bulk install): apply again, which changes
            // nothing when nothing differs; only missing blocks below count as a repair.
            _ = nft.Repair();
        }

        if ((objects || unknown) && _blocks.Count > CompareLimit)
        {
            InstallAll(unknown ? "unknown" : null);
        }
        else if (objects || unknown)
        {
            CompareAllBlocks(nft);
        }
        else
        {
            RestoreDeleted(changes.DeletedElements);
        }
    }

    /// <summary>
    /// Adds back the deleted elements the store still holds, each looked up in the store (a few deleted among a
    /// million blocks cost a few lookups, not a list of the million).
    /// </summary>
    private void RestoreDeleted(Dictionary<string, HashSet<string>> deleted)
    {
        if (deleted.Count == 0)
        {
            return;
        }

        var started = _time.GetTimestamp();
        var missing = new List<(IPNetwork Network, TimeSpan Left)>();
        Dictionary<string, long>? fill = null;
        var flushed = false;
        foreach (var (set, keys) in deleted)
        {
            if (BlockSet.Parse(set) is not { } blocks)
            {
                continue;
            }

            var before = missing.Count;
            foreach (var key in keys)
            {
                if (StoreBlockOf(blocks, key) is { } block)
                {
                    missing.Add(block);
                }
            }

            var held = missing.Count - before;
            if (held > 1)
            {
                fill ??= _blocks.SetFill().ToDictionary(f => f.Set, f => f.Elements, StringComparer.Ordinal);
                flushed |= held >= fill.GetValueOrDefault(set);
            }
        }

        InstallMissing(flushed ? "set_flushed" : "element", missing, started);
    }

    /// <summary>The store's block behind the element <paramref name="key"/> (hex) of <paramref name="set"/>, with its time left; null when the store has none.</summary>
    private (IPNetwork Network, TimeSpan Left)? StoreBlockOf(BlockSet set, string key)
    {
        var bytes = Convert.FromHexString(key);
        if (bytes.Length != (set.V4 ? 4 : 16))
        {
            return null;
        }

        var address = new IPAddress(bytes);
        var network = new IPNetwork(address, set.PrefixLength);
        if (_blocks.LeftOf(network) is { } left)
        {
            return (network, left);
        }

        // An IPv4 block given as an IPv4-mapped IPv6 network is kept so in the store and goes to the IPv4 set.
        var mapped = new IPNetwork(address.MapToIPv6(), set.PrefixLength + 96);
        return set.V4 && _blocks.LeftOf(mapped) is { } mappedLeft ? (mapped, mappedLeft) : null;
    }

    /// <summary>Installs every block the store holds again, not listening meanwhile; counted as a repair of <paramref name="kind"/> when given.</summary>
    private void InstallAll(string? kind)
    {
        var started = _time.GetTimestamp();
        var count = Quietly(_blocks.Reinstall);
        if (kind is not null)
        {
            Count(kind, null, $"notifications were lost: all {count} blocks were installed again (more than {CompareLimit} cost more to compare)", started);
        }
    }

    /// <summary>Runs <paramref name="bulk"/> without listening to the kernel's notifications (see <see cref="NftMonitor.Quietly"/>).</summary>
    private int Quietly(Func<int> bulk) => _monitor is { } monitor ? monitor.Quietly(bulk) : bulk();

    /// <summary>Compares every block set the store uses with what the kernel holds; adds back what is missing.</summary>
    private void CompareAllBlocks(NftBackend nft)
    {
        var started = _time.GetTimestamp();
        var missing = new List<(IPNetwork Network, TimeSpan Left)>();
        var flushed = false;
        foreach (var (set, keys) in StoreBySet())
        {
            var held = BlockSet.Parse(set) is { } parsed ? nft.ElementsOf(parsed) : null;
            var before = missing.Count;
            foreach (var (key, block) in keys)
            {
                if (held is null || !held.Contains(key))
                {
                    missing.Add(block);
                }
            }

            flushed |= keys.Count > 1 && missing.Count - before == keys.Count;
        }

        InstallMissing(flushed ? "set_flushed" : "element", missing, started);
    }

    private void InstallMissing(string kind, List<(IPNetwork Network, TimeSpan Left)> missing, long started)
    {
        if (missing.Count == 0)
        {
            return;
        }

        var error = _backend.AddBlocks(missing);
        Count(kind, error, $"{missing.Count} blocks were missing from the kernel", started);
        if (error is not null)
        {
            _blocks.Install(missing); // one by one through the batcher: the refused ones alone stay out
        }
    }

    /// <summary>The store's blocks grouped by kernel set, keyed as the kernel's notifications and dumps key them.</summary>
    private Dictionary<string, Dictionary<string, (IPNetwork Network, TimeSpan Left)>> StoreBySet()
    {
        var sets = new Dictionary<string, Dictionary<string, (IPNetwork, TimeSpan)>>(StringComparer.Ordinal);
        Span<byte> key = stackalloc byte[16];
        foreach (var block in _blocks.Active())
        {
            var set = NftBlockSets.SetNameOf(block.Network);
            if (!sets.TryGetValue(set, out var keys))
            {
                sets[set] = keys = new Dictionary<string, (IPNetwork, TimeSpan)>(StringComparer.Ordinal);
            }

            keys[NftChange.Hex(key[..NftBlockSets.WriteKey(block.Network, key)])] = block;
        }

        return sets;
    }

    private void Repair(string kind, string detail, Func<string?> repair)
    {
        var started = _time.GetTimestamp();
        Count(kind, repair(), detail, started);
    }

    private void Count(string kind, string? error, string detail, long started)
    {
        if (error is not null)
        {
            Healthy = false;
            Log.RepairFailed(_logger, kind, error);
            return;
        }

        Healthy = true;
        lock (_repairs)
        {
            _repairs[kind] = _repairs.GetValueOrDefault(kind) + 1;
        }

        Log.Repaired(_logger, kind, detail, _time.GetElapsedTime(started).TotalMilliseconds);
    }
}
