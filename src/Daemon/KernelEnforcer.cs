using Microsoft.Extensions.Logging;
using Shaper.Firewall;
using Shaper.Rules;

namespace Shaper.Daemon;

/// <summary>
/// The daemon's side of kernel enforcement, as a lifetime: at start it opens the backend
/// (<see cref="BackendChoice"/>), applies the ruleset, puts the stored blocks back (<see cref="BlockService"/>),
/// readies the block path and starts the <see cref="KernelReconciler"/>; it reloads; at stop it removes what the
/// shaper put in the kernel (unless <c>keep_on_stop</c>). Each of those jobs lives in its own type.
/// </summary>
internal sealed class KernelEnforcer : IDisposable
{
    private readonly ILogger<KernelEnforcer> _logger;
    private readonly TimeProvider _time;
    private readonly Task<IReadOnlyList<Feature>> _features;
    private readonly StartWitness _witness;
    private KernelBackend? _kernel;
    private KernelReconciler? _reconciler;
    private bool _applyFailed;

    /// <summary>
    /// <paramref name="features"/> is the probe, which may still be running: the memory-only store made here (SQLite's
    /// first use, its native library loaded) is made before the start waits for it.
    /// </summary>
    public KernelEnforcer(ILogger<KernelEnforcer> logger, TimeProvider time, Task<IReadOnlyList<Feature>> features, StartWitness witness)
    {
        _witness = witness;
        _logger = logger;
        _time = time;
        _features = features;
        Blocks = new BlockService(null, new BlockStore(null, NftBlockSets.Size, time), logger, time);
        Blocks.Restore();
        Holds = new HoldService(null, logger, time);
    }

    private IReadOnlyList<Feature> Features => _features.GetAwaiter().GetResult();

    public string BackendName => _kernel?.Name ?? "none";

    public string State { get; private set; } = "not started";

    /// <summary>False when the last apply, block or repair failed.</summary>
    public bool Healthy => !_applyFailed && (_reconciler?.Healthy ?? true);

    /// <summary>The blocks: add, remove, list; what the kernel refused.</summary>
    public BlockService Blocks { get; private set; }

    /// <summary>The observe rules' drop and reject sets.</summary>
    public HoldService Holds { get; private set; }

    /// <summary>Repairs of the kernel state since start, by kind (all zero before start and with backend none).</summary>
    public IReadOnlyDictionary<string, long> Repairs =>
        _reconciler?.Repairs ?? KernelReconciler.Kinds.ToDictionary(k => k, _ => 0L, StringComparer.Ordinal);

    /// <summary>Block batches that fell back from netlink to nft text, and the last reason; 0 and null without netlink.</summary>
    public (long Count, string? LastError) NetlinkFallbacks =>
        _kernel?.Backend is NftBackend nft ? (nft.NetlinkFallbacks, nft.LastNetlinkError) : (0, null);

    /// <summary>The kernel backend currently enforcing: nftables, iptables, or none before start and with backend = "none".</summary>
    public BackendKind Running { get; private set; } = BackendKind.None;

    /// <summary>The backend <paramref name="configured"/> comes to on this host, as <see cref="BackendChoice"/> opens it.</summary>
    public BackendKind Resolve(BackendKind configured) => BackendChoice.Resolve(configured, Features);

    public Task StartAsync(Shaper.Plan.EnforcementPlan plan, CancellationToken cancel)
    {
        var config = plan.Config;
        Blocks.Dispose();
        var store = new BlockStore(config.Daemon.StateDir, config.Daemon.MaxBlocks, _time, notice => Log.StoreNotice(_logger, notice));
        if (plan.Backend == BackendKind.None)
        {
            _witness.Dispose();
            Blocks = new BlockService(null, store, _logger, _time);
            Blocks.Restore();
            State = "running (backend none: nothing in the kernel)";
            return Task.CompletedTask;
        }

        _kernel = BackendChoice.Open(config.Daemon.Backend, Features, _logger, _time);
        Running = plan.Backend;
        var backend = _kernel.Backend;
        var adopted = backend.Adopt();

        // Before the apply, the daemon's first commit: whether the kernel is still where this daemon left it.
        var blocks = new BlockService(backend, store, _logger, _time);
        _ = adopted && blocks.Vouch(_witness.Witness);
        _witness.Dispose();
        if (backend.Apply(plan) is { } error)
        {
            blocks.Dispose();
            Log.KernelFailed(_logger, error);
            throw new InvalidOperationException(error);
        }

        Blocks = blocks;
        Holds = new HoldService(backend as NftBackend, _logger, _time);
        Holds.Prepare(config);
        // Not listening to its own million notifications: they would overflow the monitor and make the reconciler compare every set.
        // (The kernel still builds them while any socket of the host listens, in any namespace: its listener check is per protocol.)
        if (_kernel.Monitor is { } monitor)
        {
            monitor.Quietly(Blocks.Restore);
        }
        else
        {
            Blocks.Restore();
        }

        Blocks.WarmUp();
        _reconciler = new KernelReconciler(backend, _kernel.Monitor, Blocks, _logger, _time);
        _reconciler.Start();
        State = adopted ? "running (adopted an existing table)" : "running";
        return Task.CompletedTask;
    }

    /// <summary>Applies <paramref name="plan"/>; null on success, else why the old ruleset stays.</summary>
    public Task<string?> ReloadAsync(Shaper.Plan.EnforcementPlan plan, CancellationToken cancel)
    {
        if (_kernel is null)
        {
            return Task.FromResult<string?>(null);
        }

        var error = _kernel.Backend.Reload(plan);
        _applyFailed = error is not null;
        if (error is null)
        {
            Holds.Prepare(plan.Config);
        }

        return Task.FromResult(error);
    }

    public Task StopAsync(ShaperConfig config, CancellationToken cancel)
    {
        Dispose();
        if (_kernel is not null && !config.Daemon.KeepOnStop)
        {
            _kernel.Backend.Remove();
        }

        _kernel?.Dispose();
        _kernel = null;
        State = "stopped";
        return Task.CompletedTask;
    }

    public IEnumerable<(string Rule, long Passed, long Dropped)> RuleCounters() => _kernel?.Backend.RuleCounters() ?? [];

    /// <summary>Stops the reconciler, installs the blocks still queued, and saves the store.</summary>
    public void Dispose()
    {
        _reconciler?.Dispose();
        _reconciler = null;
        Holds.Dispose();
        Blocks.Dispose();
    }
}
