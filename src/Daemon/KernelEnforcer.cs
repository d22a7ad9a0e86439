using System.Buffers.Binary;
using System.Net;
using Microsoft.Extensions.Logging;
using Shaper.Firewall;
using Shaper.Metrics;
using Shaper.Packets;
using Shaper.Rules;

namespace Shaper.Daemon;

/// <summary>
/// The daemon's side of kernel enforcement: logs the host's features probed before start (one line per missing one),
/// picks the backend <c>[daemon].backend</c> asks for (auto: nftables, iptables only when nft is unusable), applies and
/// reloads the ruleset, owns the block list (persisted in <c>state_dir</c>, re-asserted after a restart), feeds
/// blocks to the kernel in batches, and watches for someone flushing the ruleset (re-installing within 2 s).
/// </summary>
internal sealed class KernelEnforcer : IDisposable
{
    private static readonly TimeSpan WatchPeriod = TimeSpan.FromMilliseconds(500);

    private readonly ILogger<KernelEnforcer> _logger;
    private readonly TimeProvider _time;
    private readonly IReadOnlyList<Feature> _features;
    private BlockStore _store;
    private IFirewallBackend? _backend;
    private IDisposable? _runner;
    private NftNetlink? _netlink;
    private BlockBatcher? _batcher;
    private ITimer? _watch;
    private int _watching;

    public KernelEnforcer(ILogger<KernelEnforcer> logger, TimeProvider time, IReadOnlyList<Feature> features)
    {
        _logger = logger;
        _time = time;
        _features = features;
        _store = new BlockStore(null, time);
    }

    public string BackendName { get; private set; } = "none";

    public string State { get; private set; } = "not started";

    public bool Healthy { get; private set; } = true;

    public int BlockCount => _store.Count;

    /// <summary>Block batches that fell back from netlink to nft text, and the last reason; 0 and null without netlink.</summary>
    public (long Count, string? LastError) NetlinkFallbacks =>
        _backend is NftBackend nft ? (nft.NetlinkFallbacks, nft.LastNetlinkError) : (0, null);

    /// <summary>Re-installs after a flush of the ruleset since start.</summary>
    public long Reinstalls { get; private set; }

    public Task StartAsync(ShaperConfig config, CancellationToken cancel)
    {
        _store = new BlockStore(config.Daemon.StateDir, _time);
        _store.Load();
        if (config.Daemon.Backend != BackendKind.None)
        {
            foreach (var missing in _features.Where(f => !f.Works))
            {
                Log.FeatureMissing(_logger, missing.ToString());
            }

            // A probe can fail where the real thing works (no namespaces in a container): then try what was asked.
            var kind = FeatureProbe.Choose(config.Daemon.Backend, _features, out var why);
            if (kind is null)
            {
                Log.BackendUnusable(_logger, Choices.NameOf(Choices.Backend, config.Daemon.Backend), why);
            }

            (_backend, BackendName, _runner) = OpenBackend(kind ?? (config.Daemon.Backend == BackendKind.Iptables ? BackendKind.Iptables : BackendKind.Nftables));
            var adopted = _backend.Adopt();
            if (_backend.Apply(config) is { } error)
            {
                Log.KernelFailed(_logger, error);
                throw new InvalidOperationException(error);
            }

            _batcher = new BlockBatcher(_backend.AddBlocks, Committed, _time);
            ReassertBlocks();
            _backend.WarmUp();
            RehearseBlocks();
            State = adopted ? "running (adopted an existing table)" : "running";
            _watch = _time.CreateTimer(_ => Watch(), null, WatchPeriod, WatchPeriod);
        }
        else
        {
            State = "running (backend none: nothing in the kernel)";
        }

        return Task.CompletedTask;
    }

    /// <summary>Applies <paramref name="config"/>; null on success, else why the old ruleset stays.</summary>
    public Task<string?> ReloadAsync(ShaperConfig config, CancellationToken cancel)
    {
        if (_backend is null)
        {
            return Task.FromResult<string?>(null);
        }

        var error = _backend.Apply(config);
        Healthy = error is null;
        return Task.FromResult(error);
    }

    public Task StopAsync(ShaperConfig config, CancellationToken cancel)
    {
        Dispose();
        if (_backend is not null && !config.Daemon.KeepOnStop)
        {
            _backend.Remove();
        }

        _store.SaveIfChanged();
        (_runner as IDisposable)?.Dispose();
        _runner = null;
        _netlink?.Dispose();
        _netlink = null;
        State = "stopped";
        return Task.CompletedTask;
    }

    /// <summary>
    /// An observe rule's block, from the engine thread: only queued here (the address becomes a network on this
    /// thread, nothing else), installed by the batcher, and recorded, measured and logged once it is in.
    /// </summary>
    public void Post(string rule, IpFamily family, UInt128 address, int prefixLength, long durationNs, long detectedNs)
    {
        Span<byte> bytes = stackalloc byte[16];
        IPAddress ip;
        if (family == IpFamily.V4)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)address);
            ip = new IPAddress(bytes[..4]);
        }
        else
        {
            BinaryPrimitives.WriteUInt128BigEndian(bytes, address);
            ip = new IPAddress(bytes);
        }

        var request = new BlockRequest(new IPNetwork(ip, prefixLength), TimeSpan.FromTicks(durationNs / 100), rule, detectedNs);
        if (_batcher is { } batcher)
        {
            batcher.Add(request);
        }
        else
        {
            Committed([request with { DetectedNs = 0 }], null, _time.GetUtcNow()); // backend none: remembered and logged, nothing installed to time
        }
    }

    /// <summary>
    /// Runs the block path once before the first offender, which would otherwise wait for the JIT while a thousand
    /// others cross behind it: blocks of no time (which no backend installs, and which are neither recorded nor
    /// logged) through <see cref="Post"/>, the batcher and the backend, enough of them to grow the queue.
    /// </summary>
    private void RehearseBlocks()
    {
        var batcher = _batcher!;
        var before = batcher.Batches;
        for (var i = 0; i < 64; i++)
        {
            Post("rehearsal", IpFamily.V4, uint.MaxValue, 32, 0, 0);
            Post("rehearsal", IpFamily.V6, UInt128.MaxValue, 128, 0, 0);
        }

        SpinWait.SpinUntil(() => batcher.Batches > before, TimeSpan.FromSeconds(1));
    }

    /// <summary>An operator's block (the control socket): in the block list at once, in the kernel with the next batch.</summary>
    public void Block(IPNetwork network, TimeSpan ttl)
    {
        _store.Add(network, ttl);
        _batcher?.Add(new BlockRequest(network, ttl));
    }

    /// <summary>Detection (the capture timestamp of the packet that crossed a limit) to the block committed in the kernel.</summary>
    public LatencyWindow DetectToBlock { get; } = new(4096);

    public bool Unblock(IPNetwork network)
    {
        var had = _store.Remove(network);
        if (had && _backend?.RemoveBlock(network) is { } error)
        {
            Log.KernelFailed(_logger, "removing a block: " + error);
        }

        return had;
    }

    public IReadOnlyList<string> ListBlocks() =>
        [.. _store.Active().Select(b => $"{b.Network} expires in {Math.Ceiling(b.Left.TotalSeconds)}s")];

    public IEnumerable<(string Rule, long Passed, long Dropped)> RuleCounters() => _backend?.RuleCounters() ?? [];

    public IEnumerable<(string Set, long Elements, long Size)> SetFill()
    {
        var active = _store.Active();
        foreach (var (set, _) in NftScript.BlockSets())
        {
            var count = active.Count(b => NftScript.SetOf(b.Network) == set);
            yield return (set, count, set.StartsWith("block_net", StringComparison.Ordinal) ? 0 : NftScript.BlockSetSize);
        }
    }

    public void Dispose()
    {
        _watch?.Dispose();
        _watch = null;
        _batcher?.Dispose();
        _batcher = null;
    }

    /// <summary>After each batch command (on the batcher's bookkeeping thread): remember the blocks, time them, log the rules' ones.</summary>
    private void Committed(IReadOnlyList<BlockRequest> batch, string? error, DateTimeOffset installedAt)
    {
        if (error is not null)
        {
            Healthy = false;
            Log.KernelFailed(_logger, "adding blocks: " + error);
        }

        var nowNs = (installedAt - DateTimeOffset.UnixEpoch).Ticks * 100;
        foreach (var block in batch)
        {
            if (block.Ttl <= TimeSpan.Zero)
            {
                continue; // a block of no time is nothing (the start's rehearsal)
            }

            _store.Add(block.Network, block.Ttl);
            if (error is null && block.DetectedNs > 0)
            {
                DetectToBlock.Add((nowNs - block.DetectedNs) / 1e6);
            }

            if (block.Rule is { } rule)
            {
                Log.Blocked(_logger, rule, Describe(block.Network), block.Ttl.TotalSeconds);
            }
        }
    }

    /// <summary>A host as its address, a prefix in CIDR notation.</summary>
    private static string Describe(IPNetwork network) => NftScript.IsHost(network) ? network.BaseAddress.ToString() : network.ToString();

    private (IFirewallBackend Backend, string Name, IDisposable? Runner) OpenBackend(BackendKind kind)
    {
        if (kind == BackendKind.Iptables)
        {
            var iptables = new IptablesBackend(new IptablesProcess(), _time);
            return (iptables, "iptables (hashlimit)", iptables);
        }

        if (LibNftables.TryOpen() is { } library)
        {
            // Host blocks skip nft's text parse over netlink when the socket opens; rulesets stay with libnftables.
            _netlink = NftNetlink.TryOpen("shaper");
            if (_netlink is not null)
            {
                return (new NftBackend(library, _netlink), "nftables (libnftables, netlink blocks)", library);
            }

            return (new NftBackend(library), "nftables (libnftables)", library);
        }

        return (new NftBackend(new NftProcess()), "nftables (nft process)", null);
    }

    private void ReassertBlocks()
    {
        var active = _store.Active();
        if (active.Count > 0 && _backend?.AddBlocks(active.Select(b => (b.Network, b.Left))) is { } error)
        {
            Log.KernelFailed(_logger, "re-asserting blocks: " + error);
        }
    }

    private void Watch()
    {
        // One watch at a time; a slow kernel must not stack them up.
        if (Interlocked.Exchange(ref _watching, 1) == 1)
        {
            return;
        }

        try
        {
            _store.SaveIfChanged();
            if (_backend?.ExpireBlocks() is { } expireError)
            {
                Log.KernelFailed(_logger, "expiring blocks: " + expireError);
            }

            if (_backend is not null && !_backend.IsInstalled())
            {
                var error = _backend.Reinstall();
                if (error is null)
                {
                    ReassertBlocks();
                    Reinstalls++;
                    Log.Reinstalled(_logger);
                }
                else
                {
                    Healthy = false;
                    Log.KernelFailed(_logger, "re-installing after a flush: " + error);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.KernelFailed(_logger, "saving blocks: " + e.Message);
        }
        finally
        {
            Volatile.Write(ref _watching, 0);
        }
    }
}
