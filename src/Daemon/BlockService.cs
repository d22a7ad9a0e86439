using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging;
using Shaper.Engine;
using Shaper.Firewall;
using Shaper.Metrics;
using Shaper.Packets;
using Shaper.Rules;

namespace Shaper.Daemon;

/// <summary>
/// The daemon's blocks: every block (an operator's, an observe rule's) goes to the kernel through the
/// <see cref="BlockBatcher"/>, and only once the kernel holds it is it recorded in the store, logged and
/// acknowledged; a refusal reaches whoever asked, with the kernel's reason. The store and the kernel hold the
/// same blocks with the same end: a later block of a network replaces the earlier one in both, shorter or longer.
/// Also re-installs the store's blocks in bulk (a start, a repair), sweeps ended blocks from the store (every
/// 0.5 s while it holds any; with none its timer sleeps), and holds the blocks under <c>max_blocks</c>: beyond it
/// an operator's block is refused with the reason and an observe rule's is counted and logged.
/// With netlink it also keeps the store's mark (<see cref="KernelMark"/>): the ruleset generation up to which the
/// kernel holds exactly what the store records, so that a restart after <c>kill -9</c> that finds the kernel there
/// installs nothing (<see cref="Vouch"/>).
/// </summary>
internal sealed class BlockService : IDisposable
{
    /// <summary>How many chunks read from the store may wait for the kernel during a restore.</summary>
    private const int RestoreChunksAhead = 8;

    /// <summary>
    /// The reading thread's nice value during a restore; the sending thread runs at <see cref="Threading.ThreadNice.EnforcementPath"/>.
    /// A restore keeps both CPUs of a small host busy (a million blocks: about 1.3 s of netlink inserts on one thread,
    /// 0.6 s of reading on another, 0.6 s of the kernel's own table growth and 0.3 s of the runtime's recompiling),
    /// and only the inserts are on the way to the end: the reader, 8 chunks ahead, has time to spare.
    /// </summary>
    private const int RestoreReaderNice = 5;

    private static readonly TimeSpan MaintainPeriod = TimeSpan.FromMilliseconds(500);

    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly IFirewallBackend? _backend;
    private readonly IBlockStore _store;
    private readonly BlockBatcher? _batcher;
    private readonly ITimer _maintain;
    private readonly Lock _armLock = new();
    private bool _armed = true;
    private long _refused;
    private string? _lastRefusal;
    private long _overCap;
    private long _overCapLogged;
    private int _maintaining;
    private int _disposed;
    private readonly NftNetlink? _netlink;
    private readonly string? _instance;
    private bool _kernelHolds; // the kernel was found at the store's mark: it holds every block already
    private bool _chainValid;  // the kernel's block sets held every stored block at the start of the netlink chain
    private int _removing;     // removals between the kernel and the store

    /// <summary>Blocks into <paramref name="backend"/> (none: only remembered) and <paramref name="store"/>.</summary>
    public BlockService(IFirewallBackend? backend, IBlockStore store, ILogger logger, TimeProvider time)
    {
        _backend = backend;
        _store = store;
        _logger = logger;
        _time = time;
        if (backend is not null)
        {
            _batcher = new BlockBatcher(backend.AddBlocks, Committed, time, realtime: true);
        }

        _netlink = (backend as NftBackend)?.Netlink;
        _instance = _netlink is null ? null : KernelInstance.Current();

        _maintain = time.CreateTimer(_ => Maintain(), null, MaintainPeriod, MaintainPeriod);
    }

    /// <summary>Blocks in force now.</summary>
    public int Count => _store.Count;

    /// <summary>Observe-rule blocks refused at <c>max_blocks</c> since start.</summary>
    public long OverCap => Interlocked.Read(ref _overCap);

    /// <summary>Where blocks are kept: "saved", or why they are not (yet) on disk.</summary>
    public string StoreState => _store.NotSaved is { } why ? "memory only: " + why
        : _store.Backlog > 0 ? "saving failed, retrying: " + _store.LastError
        : "saved";

    /// <summary>Block changes waiting in memory for a write that failed.</summary>
    public int StoreBacklog => _store.Backlog;

    /// <summary>Blocks the kernel refused since start, and the last reason.</summary>
    public (long Count, string? Last) Refused => (Interlocked.Read(ref _refused), Volatile.Read(ref _lastRefusal));

    /// <summary>Batches the kernel refused that were tried again in halves.</summary>
    public long Splits => _batcher?.Splits ?? 0;

    /// <summary>Detection (the capture timestamp of the packet that crossed a limit) to the block committed in the kernel.</summary>
    public LatencyWindow DetectToBlock { get; } = new(4096);

    /// <summary>
    /// The hops of <see cref="DetectToBlock"/>, for an observe rule's blocks: the packet's arrival to its block queued by
    /// the capture thread (the capture buffer and the decision), queued to taken by the install thread, and taken to
    /// committed (the netlink command for the whole batch, the kernel's commit included).
    /// </summary>
    public BlockHops Hops { get; } = new();

    /// <summary>
    /// An operator's block (or, with <paramref name="source"/>, the fleet's): done when the kernel holds it (and the
    /// store has it, with its source); null then, else the kernel's reason, and nothing changed. A block of a network
    /// already blocked replaces it, with the new time to live and source.
    /// </summary>
    public Task<string?> AddAsync(IPNetwork network, TimeSpan ttl, string source = BlockSource.Manual)
    {
        if (!_store.TryReserve(network, exact: true))
        {
            return Task.FromResult<string?>(
                $"refused: {_store.Count} blocks are in force, the most max_blocks = {_store.MaxBlocks} allows; "
                + $"remove some with 'shaperctl block del' or raise max_blocks in [daemon] (at most {NftBlockSets.Size}, the kernel set's size)");
        }

        var acknowledge = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var request = new BlockRequest(network, ttl, Acknowledge: acknowledge, Source: source);
        if (_batcher is { } batcher)
        {
            batcher.Add(request);
        }
        else
        {
            Committed([new BlockOutcome(request, null)], _time.GetUtcNow()); // backend none: recorded, nothing installed
        }

        return acknowledge.Task;
    }

    /// <summary>
    /// An observe rule's block, from the engine thread: only queued here (the address becomes a network on this
    /// thread, nothing else), installed by the batcher, and recorded, measured and logged once it is in. Compiled
    /// optimized at once (and by <see cref="WarmUp"/>): the first attack calls it a thousand times in a few milliseconds.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public void Post(string rule, IpFamily family, UInt128 address, int prefixLength, long durationNs, long detectedNs)
    {
        var ip = new HeldKey(family, address, prefixLength, 0, KeyKind.Source).ToAddress();

        var queuedNs = detectedNs == 0 ? 0 : (_time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;
        var request = new BlockRequest(new IPNetwork(ip, prefixLength), TimeSpan.FromTicks(durationNs / 100), rule, detectedNs, QueuedNs: queuedNs);
        if (durationNs > 0 && !_store.TryReserve(request.Network, exact: false))
        {
            Interlocked.Increment(ref _overCap); // logged by the maintenance timer, not here on the engine thread
            Arm();
            return;
        }

        if (_batcher is { } batcher)
        {
            batcher.Add(request);
        }
        else
        {
            Committed([new BlockOutcome(request with { DetectedNs = 0 }, null)], _time.GetUtcNow()); // backend none: remembered and logged
        }
    }

    /// <summary>Takes a block out of the kernel, then out of the store: (false, null) when there was none; an error leaves both as they were.</summary>
    public (bool Had, string? Error) Remove(IPNetwork network)
    {
        if (!_store.Contains(network))
        {
            return (false, null);
        }

        // Counted while the kernel and the store differ, so no mark is written in between.
        Interlocked.Increment(ref _removing);
        try
        {
            if (_backend?.RemoveBlock(network) is { } error)
            {
                return (true, error);
            }

            _store.Remove(network, Recordable(ownBatches: 0, ownRemovals: 1));
            return (true, null);
        }
        finally
        {
            Interlocked.Decrement(ref _removing);
        }
    }

    /// <summary>The time the block of <paramref name="network"/> has left; null when there is none in force.</summary>
    public TimeSpan? LeftOf(IPNetwork network) => _store.LeftOf(network);

    /// <summary>Who decided the block of <paramref name="network"/> (<see cref="BlockSource"/>); null when unknown or none.</summary>
    public string? SourceOf(IPNetwork network) => _store.SourceOf(network);

    /// <summary>The blocks in force with the time each has left.</summary>
    public List<(IPNetwork Network, TimeSpan Left)> Active() => _store.Active();

    /// <summary>The block list as text: a network and its time left.</summary>
    public IReadOnlyList<string> List() =>
        [.. _store.Active().Select(b => $"{b.Network} expires in {Math.Ceiling(b.Left.TotalSeconds)}s")];

    /// <summary>The blocks whose source <paramref name="keep"/> accepts, with their source.</summary>
    public List<(IPNetwork Network, string Source)> Sources(Func<string, bool> keep) =>
        [.. _store.Sources().Where(s => keep(s.Value)).Select(s => (s.Key, s.Value))];

    /// <summary>The blocks in force with the time each has left and who decided it (<see cref="BlockSource"/>; null when unknown).</summary>
    public List<(IPNetwork Network, TimeSpan Left, string? Source)> ActiveWithSources()
    {
        var sources = _store.Sources();
        return [.. _store.Active().Select(b => (b.Network, b.Left, sources.GetValueOrDefault(b.Network)))];
    }

    /// <summary>Elements the store holds per kernel set.</summary>
    public IEnumerable<(string Set, long Elements, long Size)> SetFill()
    {
        var counts = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var set in NftBlockSets.HostSets)
        {
            counts[set.Name] = 0;
        }

        // Hosts by the store's counts (a million of them are not read for a scrape); prefixes are few, listed.
        foreach (var set in NftBlockSets.HostSets)
        {
            counts[set.Name] = _store.CountOf(v4: set.Name.EndsWith("v4", StringComparison.Ordinal), host: true);
        }

        foreach (var (network, _) in _store.Active(prefixesOnly: true))
        {
            var name = NftBlockSets.SetNameOf(network);
            counts[name] = counts.GetValueOrDefault(name) + 1;
        }

        return counts.Select(c => (c.Key, c.Value, (long)NftBlockSets.Size));
    }

    /// <summary>
    /// Installs <paramref name="blocks"/> (the store's, after a start or a flush) in the kernel in bulk: netlink
    /// batches of thousands of elements. When the kernel refuses some, each goes through the batcher, whose
    /// halving finds the ones refused and installs the rest. Returns how many were given.
    /// </summary>
    public int Install(IReadOnlyList<(IPNetwork Network, TimeSpan Left)> blocks)
    {
        if (_backend is null || blocks.Count == 0)
        {
            return 0;
        }

        var started = _time.GetTimestamp();
        if (InstallQuietly(blocks))
        {
            Log.BlocksRestored(_logger, blocks.Count, _time.GetElapsedTime(started).TotalMilliseconds);
        }

        return blocks.Count;
    }

    /// <summary>
    /// At start, on an adopted table and before the daemon commits anything: whether the kernel is still exactly as
    /// this daemon left it, holding every stored block with its time left. True when the store's mark names this
    /// boot and network namespace and the ruleset generation the kernel was at when this process began (<paramref name="witness"/>,
    /// which also saw nothing touch the table since; without it, the generation now): the daemon wrote that mark only
    /// with every block its commits up to that generation had put in the kernel recorded, and any transaction since
    /// (any process, any table) would have moved the generation. Then <see cref="Restore"/> installs nothing, as long
    /// as the daemon's own commits until then keep the chain (<see cref="NftNetlink.Chained"/>). Otherwise the mark
    /// is cleared, and the restore installs every block.
    /// </summary>
    public bool Vouch(NftWitness? witness)
    {
        _store.Prepare();
        if (_netlink is null || _instance is null)
        {
            return false;
        }

        // With a witness, the generation when the process began, and whatever came since without touching the table.
        if (_store.Mark is { } mark && mark.Instance == _instance && _store.Imported == 0
            && (witness is null ? (_netlink.Generation() == mark.Generation ? mark.Generation : null)
                : witness.Started == mark.Generation ? witness.Conclude() : null) is { } generation)
        {
            _netlink.Trust(generation);
            _kernelHolds = true;
            return true;
        }

        _store.Record(null);
        return false;
    }

    /// <summary>
    /// Opens the store and installs its blocks as they are read (one pass over the file, a few thousand blocks at
    /// a time, so a million are never all in memory); with backend none, only opens it. After <see cref="Vouch"/>
    /// said the kernel holds them, and nothing but the daemon's own commits came since, only opens it (counting).
    /// </summary>
    public void Restore()
    {
        if (_backend is null)
        {
            _store.Open();
            return;
        }

        if (_kernelHolds && _netlink?.Chained is { } generation)
        {
            var started = _time.GetTimestamp();
            _store.OpenCounted();
            Volatile.Write(ref _chainValid, true);
            Arm();
            Log.BlocksKept(_logger, _store.Count, generation, _time.GetElapsedTime(started).TotalMilliseconds);
            return;
        }

        _kernelHolds = false;
        InstallAll(_store.Open);
    }

    /// <summary>
    /// Installs every block the store holds again (after the table was deleted, or when the kernel's notifications
    /// were lost and a comparison would cost more), read and installed as <see cref="Restore"/> does; returns how
    /// many were given. A block already in the kernel takes the same end again.
    /// </summary>
    public int Reinstall() => _backend is null ? 0 : InstallAll(_store.ForEachActive);

    /// <summary>
    /// Installs what <paramref name="read"/> hands over, a chunk at a time. Reading and installing overlap: a second
    /// thread sends each chunk to the kernel while the next is read, as both cost about the same (a million
    /// blocks: about 0.9 s of reading and 1.5 s of netlink inserts), and at most <see cref="RestoreChunksAhead"/>
    /// chunks wait between them. While they overlap the sender goes first (<see cref="RestoreReaderNice"/>).
    /// Returns how many were read.
    /// </summary>
    private int InstallAll(Action<Action<PackedBlocks>> read)
    {
        var started = _time.GetTimestamp();
        var count = 0;
        var ok = true;

        // Whatever the kernel held before, once every stored block is in again it holds them all: the chain starts
        // here, and a mark is written only once the whole install went through in it.
        Volatile.Write(ref _chainValid, false);
        if (_netlink?.Generation() is { } generation)
        {
            _netlink.Trust(generation);
        }

        using var chunks = new BlockingCollection<PackedBlocks>(RestoreChunksAhead);
        var done = new ConcurrentQueue<PackedBlocks>(); // chunks sent, filled again by the reader
        var installer = Task.Factory.StartNew(
            () =>
            {
                _ = Threading.ThreadNice.Set(Threading.ThreadNice.EnforcementPath); // its own thread, which ends with the restore
                try
                {
                    foreach (var chunk in chunks.GetConsumingEnumerable())
                    {
                        ok &= InstallQuietly(chunk);
                        done.Enqueue(chunk);
                    }
                }
                finally
                {
                    foreach (var _ in chunks.GetConsumingEnumerable())
                    {
                        // An install that threw must not leave the reader blocked on a full queue.
                    }
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
        // Lowered only when it can be raised back (down to the sender's value: CAP_SYS_NICE, or RLIMIT_NICE as the unit's
        // LimitNICE gives), or the reading thread, the start's or the reconciler's, would stay at 5 for good.
        var nice = Threading.ThreadNice.Get();
        var lowered = Threading.ThreadNice.Probe(Math.Min(nice, Threading.ThreadNice.EnforcementPath)) is null
            && Threading.ThreadNice.Set(RestoreReaderNice) is null;
        try
        {
            read(chunk =>
            {
                count += chunk.Count;
                // The store reuses its buffer for the next chunk; at most RestoreChunksAhead and two more are ever made.
                var copy = done.TryDequeue(out var sent) ? sent : new PackedBlocks(chunk.Count);
                copy.CopyFrom(chunk);
                chunks.Add(copy);
            });
        }
        finally
        {
            chunks.CompleteAdding();
            if (lowered)
            {
                _ = Threading.ThreadNice.Set(nice);
            }

            installer.GetAwaiter().GetResult();
        }

        Volatile.Write(ref _chainValid, ok);
        RecordMark();
        Arm();
        if (count > 0 && ok)
        {
            Log.BlocksRestored(_logger, count, _time.GetElapsedTime(started).TotalMilliseconds);
        }

        return count;
    }

    /// <summary>
    /// The mark the store may write now (in the same transaction as the blocks of a batch being recorded or a removal,
    /// counted in <paramref name="ownBatches"/> and <paramref name="ownRemovals"/>): the chain's generation, when the whole chain is the daemon's and every block commit
    /// up to it is recorded (the chain is read before the batches in flight, which are counted before they commit).
    /// Null when not now.
    /// </summary>
    private KernelMark? Recordable(int ownBatches, int ownRemovals)
    {
        if (_instance is null || !Volatile.Read(ref _chainValid) || _netlink?.Chained is not { } generation)
        {
            return null;
        }

        return (_batcher?.Unrecorded ?? 0) == ownBatches && Volatile.Read(ref _removing) == ownRemovals ? new KernelMark(_instance, generation) : null;
    }

    /// <summary>Writes the mark the store may hold now; clears it when the chain is broken (a restart then installs every block).</summary>
    private void RecordMark()
    {
        if (_netlink is null || _instance is null)
        {
            return;
        }

        if (!Volatile.Read(ref _chainValid) || _netlink.Chained is null)
        {
            _store.Record(null);
        }
        else if (Recordable(0, 0) is { } mark)
        {
            _store.Record(mark);
        }
    }

    /// <summary>
    /// Runs the block path once before the first offender, which would otherwise wait for the JIT while a thousand
    /// others cross behind it: the backend's warm-up, then blocks of no time (which no backend installs, and which
    /// are neither recorded nor logged) through <see cref="Post"/>, the batcher and the backend.
    /// </summary>
    public void WarmUp()
    {
        if (_batcher is not { } batcher)
        {
            return;
        }

        _backend!.WarmUp();

        // The admission a real block takes (a block of no time takes none), given back at once.
        if (_store.TryReserve(new IPNetwork(IPAddress.Broadcast, 32), exact: false))
        {
            _store.Release(1);
        }

        var before = batcher.Batches;
        for (var i = 0; i < 64; i++)
        {
            Post("rehearsal", IpFamily.V4, uint.MaxValue, 32, 0, 0);
            Post("rehearsal", IpFamily.V6, UInt128.MaxValue, 128, 0, 0);
        }

        SpinWait.SpinUntil(() => batcher.Batches > before, TimeSpan.FromSeconds(1));
    }

    /// <summary>Installs what is queued, then closes the store (saying what it could not save).</summary>
    public void Dispose()
    {
        // Once: the daemon's stop disposes it, and the host disposes the enforcer that holds it again.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _maintain.Dispose();
        _batcher?.Dispose();
        if (_store.Close() is { } lost)
        {
            Log.StoreUnsaved(_logger, lost);
        }
    }

    /// <summary>Installs in bulk; when the kernel refuses, each block goes through the batcher, whose halving finds the refused ones.</summary>
    private bool InstallQuietly(IReadOnlyList<(IPNetwork Network, TimeSpan Left)> blocks)
    {
        if (_backend!.AddBlocks(blocks) is not { } error)
        {
            return true;
        }

        Log.BulkInstallFailed(_logger, blocks.Count, error);
        foreach (var (network, left) in blocks)
        {
            _batcher!.Add(new BlockRequest(network, left));
        }

        return false;
    }

    /// <summary>A host as its address, a prefix in CIDR notation.</summary>
    private static string Describe(IPNetwork network) => NftBlockSets.IsHost(network) ? network.BaseAddress.ToString() : network.ToString();

    /// <summary>After each batch (on the batcher's bookkeeping thread): record what the kernel holds, answer who waits, log.</summary>
    private void Committed(IReadOnlyList<BlockOutcome> outcomes, DateTimeOffset installedAt)
    {
        // What the kernel took goes to disk in one transaction, and only then is anyone told: an acknowledged block
        // is in the kernel and survives kill -9. Admissions under max_blocks are returned either way.
        var records = new List<(IPNetwork, DateTimeOffset)>(outcomes.Count);
        var sources = new List<string?>(outcomes.Count);
        var admitted = 0;
        foreach (var (block, error) in outcomes)
        {
            if (block.Ttl > TimeSpan.Zero && (block.Rule is not null || block.Acknowledge is not null))
            {
                admitted++;
            }

            if (block.Ttl > TimeSpan.Zero && error is null)
            {
                records.Add((block.Network, installedAt + block.Ttl));
                sources.Add(block.Source ?? (block.Rule is { } decidedBy ? BlockSource.Rule(decidedBy) : null));
            }
        }

        var unsaved = _store.Commit(records, sources, Recordable(ownBatches: 1, ownRemovals: 0));
        _store.Release(admitted);
        Arm();
        var nowNs = (installedAt - DateTimeOffset.UnixEpoch).Ticks * 100;
        foreach (var (block, error) in outcomes)
        {
            if (block.Ttl <= TimeSpan.Zero)
            {
                block.Acknowledge?.TrySetResult(null); // a block of no time is nothing (the start's rehearsal)
                continue;
            }

            if (error is not null)
            {
                Interlocked.Increment(ref _refused);
                Volatile.Write(ref _lastRefusal, error);
                Log.BlockRefused(_logger, Describe(block.Network), error);
                block.Acknowledge?.TrySetResult(error);
                continue;
            }

            if (block.DetectedNs > 0)
            {
                DetectToBlock.Add((nowNs - block.DetectedNs) / 1e6);
                if (block.QueuedNs > 0)
                {
                    Hops.Add(block.DetectedNs, block.QueuedNs, block.TakenNs, nowNs, outcomes.Count);
                }
            }

            if (block.Rule is { } rule)
            {
                Log.Blocked(_logger, rule, Describe(block.Network), block.Ttl.TotalSeconds);
            }

            block.Acknowledge?.TrySetResult(unsaved is null ? null
                : $"blocked in the kernel, but not saved to state_dir yet ({unsaved}); the write is retried, and until it succeeds a crash would lose this block");
        }
    }

    /// <summary>Wakes the maintenance timer if it sleeps (cheap when it does not: one read).</summary>
    private void Arm()
    {
        if (Volatile.Read(ref _armed))
        {
            return;
        }

        lock (_armLock)
        {
            if (!_armed)
            {
                _armed = true;
                _maintain.Change(MaintainPeriod, MaintainPeriod);
            }
        }
    }

    private void Maintain()
    {
        // One pass at a time; a slow disk or kernel must not stack them up.
        if (Interlocked.Exchange(ref _maintaining, 1) == 1)
        {
            return;
        }

        try
        {
            _store.Sweep();
            if (Interlocked.Read(ref _overCap) is var overCap && overCap != _overCapLogged)
            {
                _overCapLogged = overCap;
                Log.BlocksOverCap(_logger, overCap, _store.Count, _store.MaxBlocks);
            }

            if (_backend?.ExpireBlocks() is { } error)
            {
                Log.KernelFailed(_logger, "expiring blocks: " + error);
            }

            RecordMark(); // after the observe rules' holds and releases, which move the generation too

            lock (_armLock)
            {
                // Nothing left to sweep, save or log: the timer sleeps until a block or a refusal arms it again.
                if (_store.Count == 0 && _store.Backlog == 0 && Interlocked.Read(ref _overCap) == _overCapLogged)
                {
                    _armed = false;
                    _maintain.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                }
            }
        }
        finally
        {
            Volatile.Write(ref _maintaining, 0);
        }
    }
}
