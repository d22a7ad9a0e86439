using Shaper.Capture;
using Shaper.Control;
using Shaper.Daemon.Control;
using Shaper.Engine;
using Shaper.Plan;
using Shaper.Rules;

namespace Shaper.Daemon;

/// <summary>The control socket's view of the daemon: its handlers, and the state they read.</summary>
internal sealed partial class ShaperService
{
    private readonly long _startedAt = Environment.TickCount64;
    private ControlDispatcher? _dispatcher;

    internal DaemonArguments Arguments => _arguments;

    internal ShaperConfig Config => _config;

    internal EnforcementPlan? Plan => _plan;

    internal KernelEnforcer Kernel => _kernel;

    internal EngineRunner? Engine => _engine;

    /// <summary>The fleet sync, null when no rule has scope = "fleet".</summary>
    internal FleetLoop? Fleet => _fleet;

    internal QueueService Queues => _queues;

    internal LiveCapture? Capture => _capture;

    internal string CaptureFilter => _captureFilter;

    /// <summary>Why the watchdog stopped (a capture thread dead or not answering), null while healthy.</summary>
    internal string? Unhealthy => _unhealthy;

    internal long ReloadsOk => Interlocked.Read(ref _reloadsOk);

    internal long ReloadsFailed => Interlocked.Read(ref _reloadsFailed);

    internal double LastApplyMs => _lastApplyMs;

    /// <summary>The last reload or rules apply that failed (and left the running rules), null when none has.</summary>
    internal ReloadFailure? LastReloadFailure => _lastReloadFailure;

    internal TimeSpan Uptime => TimeSpan.FromMilliseconds(Environment.TickCount64 - _startedAt);

    private Task<ControlResponse> HandleAsync(ControlRequest request, PeerCredentials peer, CancellationToken cancel)
    {
        // Built on first use: the handlers hold the service itself. Two racing first requests may each build
        // one; either is the same table.
        var dispatcher = LazyInitializer.EnsureInitialized(ref _dispatcher, () => new ControlDispatcher(
        [
            new StatusHandler(this),
            new RulesListHandler(this),
            new RulesShowHandler(this),
            new RulesDiffHandler(this),
            new RulesApplyHandler(this),
            new ReloadHandler(this),
            new CountersHandler(this),
            new BlockAddHandler(this),
            new BlockDelHandler(this),
            new BlockListHandler(this),
            new FleetStatusHandler(this),
            new FleetBreakerHandler(this),
        ]));
        return dispatcher.HandleAsync(request, peer, cancel);
    }
}
