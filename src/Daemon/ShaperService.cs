using System.Net;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Shaper.Capture;
using Shaper.Control;
using Shaper.Engine;
using Shaper.Interop;
using Shaper.Metrics;
using Shaper.Packets;
using Shaper.Plan;
using Shaper.Rules;

namespace Shaper.Daemon;

/// <summary>
/// The daemon: loads and validates the configuration, applies it to the kernel, starts live capture and
/// the engine thread, serves the control socket and the metrics endpoint, and reloads on SIGHUP or
/// <c>shaperctl reload</c>. Start-up work happens in <see cref="StartAsync"/>, so the systemd lifetime
/// sends READY=1 only once the kernel ruleset is applied and capture runs.
/// </summary>
internal sealed partial class ShaperService : IHostedService, IAsyncDisposable
{
    private readonly DaemonArguments _arguments;
    private readonly ILogger<ShaperService> _logger;
    private readonly ISystemdNotifier _notifier;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _reloadLock = new(1, 1);
    private readonly KernelEnforcer _kernel;
    private readonly QueueService _queues;
    private ShaperConfig _config = new();
    private EnforcementPlan? _plan;
    private EngineRunner? _engine;
    private FleetLoop? _fleet;
    private LiveCapture? _capture;
    private string _captureFilter = "";
    private string? _unhealthy;
    private ControlServer? _control;
    private MetricsServer? _metrics;
    private PosixSignalRegistration? _sighup;
    private static readonly TimeSpan InterfaceWatchPeriod = TimeSpan.FromSeconds(2);
    private Timer? _watchdog;
    private ITimer? _interfaceWatch;
    private string _missingInterfaces = "";
    private long _reloadsOk;
    private long _reloadsFailed;
    private double _lastApplyMs;
    private ReloadFailure? _lastReloadFailure;

    public ShaperService(DaemonArguments arguments, ILogger<ShaperService> logger, ISystemdNotifier notifier, TimeProvider time, KernelEnforcer kernel, IReadOnlyList<Shaper.Firewall.Feature> features)
    {
        _arguments = arguments;
        _logger = logger;
        _notifier = notifier;
        _time = time;
        _kernel = kernel;
        _queues = new QueueService(logger, time, new Shaper.Firewall.IptablesProcess(), new Shaper.Firewall.NftProcess(), features);
    }

    private string SocketPath => _arguments.SocketOverride ?? _config.Daemon.Socket;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Log.Starting(_logger, typeof(ShaperService).Assembly.GetName().Version?.ToString(3) ?? "?", _arguments.ConfigPath);
        Notify("STATUS=loading configuration");
        var loaded = ConfigLoader.Load(_arguments.ConfigPath, new LoadOptions { ResolveBackend = _kernel.Resolve });
        foreach (var diagnostic in loaded.Diagnostics)
        {
            Log.ConfigDiagnostic(_logger, diagnostic.ToString());
        }

        if (loaded.Config is not { } config)
        {
            Log.StartFailed(_logger, $"{_arguments.ConfigPath} has errors; not starting (check it with: shaperctl rules validate {_arguments.ConfigPath})");
            throw new InvalidOperationException("the configuration has errors");
        }

        _config = config;
        var plan = _plan = EnforcementPlan.Compile(config, _kernel.Resolve(config.Daemon.Backend));
        ResolveInterfaces(plan);
        Notify("STATUS=applying the kernel ruleset");
        var started = _time.GetTimestamp();
        await _kernel.StartAsync(plan, cancellationToken).ConfigureAwait(false);
        _lastApplyMs = _time.GetElapsedTime(started).TotalMilliseconds;

        try
        {
            var lanes = config.Daemon.EffectiveCaptureThreads;
            _engine = new EngineRunner(lanes, lane => NewEngine(plan, lane, lanes), _time);

            // An engine's block leaves through PostBlock on a capture thread: compiled here, with a block of no time
            // (installed, recorded and measured by nothing), rather than on the first offender while others queue behind it.
            PostBlock("rehearsal", IpFamily.V4, uint.MaxValue, 32, 0, MonotonicClock.NowNs(_time));
            _fleet = await StartFleetAsync(plan).ConfigureAwait(false);
            StartCapture(plan);
            if (_queues.Apply(plan) is { } queueError)
            {
                throw new InvalidOperationException(queueError);
            }

            _control = ControlServer.Start(SocketPath, HandleAsync, new AccessPolicy());
            if (config.Daemon.Metrics.Length > 0)
            {
                try
                {
                    _metrics = MetricsServer.Start(config.Daemon.Metrics, CollectMetrics);
                }
                catch (HttpListenerException e)
                {
                    Log.MetricsFailed(_logger, config.Daemon.Metrics, e.Message);
                }
            }

            _sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true;
                _ = ReloadAsync("SIGHUP", null);
            });
            StartWatchdog();
            StartInterfaceWatch();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A daemon that is not running leaves nothing enforced behind it: the ruleset it applied goes again.
            Log.StartFailed(_logger, $"{e.Message}; not starting, and the kernel ruleset just applied is removed");
            await DisposeAsync().ConfigureAwait(false);
            _queues.Stop(keepRules: false);
            await _kernel.StopAsync(config, CancellationToken.None).ConfigureAwait(false);
            throw new InvalidOperationException("the start failed", e);
        }

        Log.Ready(_logger, config.Rules.Count, plan.KernelRules.Count, plan.ObservedRules.Count, _kernel.BackendName, _capture is null ? "off" : plan.CaptureInterface);
        Notify($"STATUS=running: {config.Rules.Count} rules, backend {_kernel.BackendName}");
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Log.Stopping(_logger);
        Notify("STATUS=stopping");

        // Held packets get their verdicts first, while everything else still runs.
        _queues.Stop(keepRules: _config.Daemon.KeepOnStop);
        await DisposeAsync().ConfigureAwait(false);
        await _kernel.StopAsync(_config, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _sighup?.Dispose();
        _sighup = null;
        if (_watchdog is not null)
        {
            await _watchdog.DisposeAsync().ConfigureAwait(false);
            _watchdog = null;
        }

        _interfaceWatch?.Dispose();
        _interfaceWatch = null;
        _queues.Dispose();
        _capture?.Dispose();
        _capture = null;
        if (_fleet is not null)
        {
            await _fleet.DisposeAsync().ConfigureAwait(false);
            _fleet = null;
        }

        _engine?.Dispose();
        _engine = null;
        if (_control is not null)
        {
            await _control.DisposeAsync().ConfigureAwait(false);
            _control = null;
        }

        if (_metrics is not null)
        {
            await _metrics.DisposeAsync().ConfigureAwait(false);
            _metrics = null;
        }
    }

    /// <summary>
    /// Re-reads the configuration file (or applies <paramref name="text"/>) as one transaction across the capture, the
    /// kernel and the engine: a file with errors, a capture that cannot open the new interface or a ruleset the kernel
    /// refuses leaves the running capture, kernel rules and engine as they were, counts the failure and keeps its reason.
    /// </summary>
    public async Task<(bool Ok, string Message)> ReloadAsync(string trigger, string? text)
    {
        await _reloadLock.WaitAsync().ConfigureAwait(false);
        try
        {
            // Checked against the backend that is running: a reload does not switch backends.
            var options = new LoadOptions { ResolveBackend = _ => _kernel.Running };
            var loaded = text is null ? ConfigLoader.Load(_arguments.ConfigPath, options) : ConfigLoader.Parse(text, "(shaperctl rules apply)", options);
            if (loaded.Config is not { } config)
            {
                return Refuse(trigger, string.Join("; ", loaded.Diagnostics.Where(d => d.IsError).Select(d => d.ToString())));
            }

            var plan = EnforcementPlan.Compile(config, _kernel.Running);
            ResolveInterfaces(plan);
            var previous = _plan!;
            var started = _time.GetTimestamp();

            // Capture first: reopening it touches nothing else, so undoing it is reopening the old one. Undoing a kernel
            // apply would recreate the changed rules' meters a second time.
            var recapture = plan.CaptureFilter != _captureFilter || _capture?.Interface != CaptureInterface(plan) || _capture?.Fanout is { } fanout && fanout != FanoutKey.For(plan.ObservedRules);
            // An interface that is not there is refused before anything is touched; one that fails to open is found by opening it.
            if (recapture && CaptureInterface(plan) is { } name && name != _capture?.Interface && name != "any" && LibC.IfNameToIndex(name) == 0)
            {
                return Refuse(trigger, $"[daemon] interface \"{name}\" does not exist; the running rules and capture are kept");
            }

            if (recapture && Recapture(previous, plan) is { } captureError)
            {
                return Refuse(trigger, captureError);
            }

            var applied = await _kernel.ReloadAsync(plan, CancellationToken.None).ConfigureAwait(false);
            if (applied is not null)
            {
                if (recapture)
                {
                    RestartCapture(previous);
                }

                return Refuse(trigger, applied);
            }

            // A queue that cannot be bound (another process has its number) puts the previous rules back everywhere.
            if (_queues.Apply(plan) is { } queueError)
            {
                await _kernel.ReloadAsync(previous, CancellationToken.None).ConfigureAwait(false);
                _queues.Apply(previous);
                if (recapture)
                {
                    RestartCapture(previous);
                }

                return Refuse(trigger, queueError);
            }

            _lastApplyMs = _time.GetElapsedTime(started).TotalMilliseconds;
            var resets = LimiterChange.Resets(previous, plan);
            _config = config;
            _plan = plan;
            WatchInterfaces(plan);
            _engine?.Swap(lane => NewEngine(plan, lane, _engine.Lanes.Count, _engine.Lanes[lane].Engine));
            if (FleetChanged(previous, plan))
            {
                if (_fleet is not null)
                {
                    await _fleet.DisposeAsync().ConfigureAwait(false);
                }

                _fleet = await StartFleetAsync(plan).ConfigureAwait(false);
            }

            Interlocked.Increment(ref _reloadsOk);
            // Unchanged rules keep their state (the kernel's meter sets and the engine's key tables); say which did not.
            var reset = resets.Count == 0 ? "no rule reset" : "reset (fresh state): " + string.Join(", ", resets.Select(r => $"{r.Rule} ({r.Reason})"));
            Log.Reloaded(_logger, trigger, config.Rules.Count, _lastApplyMs, reset);
            Notify($"STATUS=running: {config.Rules.Count} rules, backend {_kernel.BackendName}");
            return (true, $"{config.Rules.Count} rules applied; {reset}");
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    /// <summary>The fleet sync for <paramref name="plan"/>'s fleet rules, or null when it has none.</summary>
    private async Task<FleetLoop?> StartFleetAsync(EnforcementPlan plan) =>
        plan.Config.Fleet is { } fleet && plan.ObservedRules.Any(r => r.Scope == RuleScope.Fleet) && _engine is { } runner
            ? await FleetLoop.StartAsync(fleet, plan.ObservedRules, runner, _time, _logger, _kernel.Blocks).ConfigureAwait(false)
            : null;

    /// <summary>True when a reload changes [fleet] or the fleet rules: the sync starts again with them.</summary>
    private static bool FleetChanged(EnforcementPlan before, EnforcementPlan after)
    {
        var was = before.ObservedRules.Where(r => r.Scope == RuleScope.Fleet).ToList();
        var now = after.ObservedRules.Where(r => r.Scope == RuleScope.Fleet).ToList();
        return before.Config.Fleet != after.Config.Fleet
            || was.Count != now.Count
            || was.Zip(now).Any(pair => pair.First.Name != pair.Second.Name || LimiterChange.Reason(pair.First, pair.Second) is not null);
    }

    /// <summary>A reload that changes nothing: logged, counted, and kept as the last failure for <c>status</c>.</summary>
    private (bool Ok, string Message) Refuse(string trigger, string reason)
    {
        Log.ReloadRefused(_logger, trigger, reason);
        Interlocked.Increment(ref _reloadsFailed);
        _lastReloadFailure = new ReloadFailure(trigger, reason, _time.GetUtcNow());
        return (false, reason);
    }

    /// <summary>
    /// Swaps the capture for <paramref name="plan"/>'s; null on success. A capture on another interface that does not
    /// open (the interface is missing or down) puts <paramref name="previous"/>'s back and says why. On the same interface
    /// (a new filter) it is not refused: it retries by itself, as the capture it replaces did.
    /// </summary>
    private string? Recapture(EnforcementPlan previous, EnforcementPlan plan)
    {
        var before = _capture?.Interface;
        var name = CaptureInterface(plan);
        try
        {
            RestartCapture(plan);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            RestartCapture(previous);
            return $"capture on {name} could not start: {e.Message}";
        }

        if (_capture is { Running: false } capture && capture.Interface != before)
        {
            var why = capture.LastError ?? "it did not open";
            RestartCapture(previous);
            return $"capture on {name} could not start ({why}); the running rules and capture are kept";
        }

        return null;
    }

    private void RestartCapture(EnforcementPlan plan)
    {
        _capture?.Dispose();
        _capture = null;
        StartCapture(plan);
    }

    /// <summary>The interface <paramref name="plan"/> captures on, null when it captures nothing.</summary>
    private string? CaptureInterface(EnforcementPlan plan) => plan.Captures && _engine is not null ? plan.CaptureInterface : null;

    /// <summary>
    /// Lane <paramref name="lane"/>'s engine: the plan's observed rules over the packets that lane captures; the kernel counts
    /// its own rules. The lanes share <c>max_keys</c>, as they share the keys (one key, one lane), unless every packet
    /// goes to the first lane.
    /// </summary>
    private RuleEngine NewEngine(EnforcementPlan plan, int lane, int lanes, RuleEngine? previous = null)
    {
        var maxKeys = plan.Config.Daemon.MaxKeys;
        if (lanes > 1)
        {
            maxKeys = FanoutKey.For(plan.ObservedRules).Field == FanoutField.None
                ? (lane == 0 ? maxKeys : 1024)
                : Math.Max(1024, (maxKeys + lanes - 1) / lanes);
        }

        // Tables grow with the keys seen (up to max_keys, then evict), as in a replay: compact, so they stay in cache.
        var engine = new RuleEngine(plan.Observed, maxKeys, RuleEngine.InitialKeysPerRule, previous: previous)
        {
            Releases = _kernel.Holds.Releases,
            Installs = _kernel.Holds.Releases is null ? null : _kernel.Holds.InstallsOf,
        };
        engine.KeyBlocked += PostBlock;
        engine.KeyHeld += PostHold;
        engine.KeyOverLimit += LogOverLimit;
        return engine;
    }

    /// <summary>A logging or soft rule's key over its limit: one line, at most once per key per window (the engine sees to that).</summary>
    private void LogOverLimit(OverLimitNotice notice)
    {
        var outcome = notice.Mode == RuleMode.Soft
            ? notice.Action switch
            {
                RuleAction.Drop => "would be dropped (soft mode)",
                RuleAction.Reject => "would be rejected (soft mode)",
                RuleAction.Block => "would be blocked (soft mode)",
                _ => "logged (soft mode)",
            }
            : "logged";
        Log.OverLimit(_logger, notice.Rule, notice.Key.ToString(), outcome, notice.Limited, notice.Passed, notice.WindowNs / 1e9);
    }

    /// <summary>
    /// A block from a capture thread, queued for the kernel; its detection time leaves the packets' monotonic clock for
    /// the wall clock the kernel path measures with. Compiled optimized at once: the first attack calls it a thousand
    /// times before tiered compilation would have promoted it.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private void PostBlock(string rule, IpFamily family, UInt128 address, int prefixLength, long durationNs, long detectedNs)
    {
        _kernel.Blocks.Post(rule, family, address, prefixLength, durationNs, detectedNs == 0 ? 0 : MonotonicClock.ToUnixNs(_time, detectedNs));
        _fleet?.Publish(rule, family, address, prefixLength, durationNs); // a fleet rule's block reaches every host
    }

    /// <summary>A hold from a capture thread: it ends, and was raised, on the packets' monotonic clock.</summary>
    private void PostHold(KeyHold hold) => _kernel.Holds.Post(hold);

    private void StartCapture(EnforcementPlan plan)
    {
        var config = plan.Config;
        _captureFilter = plan.CaptureFilter;
        if (!plan.Captures || _engine is null)
        {
            return;
        }

        // An interface that is missing or down is waited for: capture starts when it can, and is retried when lost.
        var name = plan.CaptureInterface;
        _capture = LiveCapture.Start(name, _captureFilter, FanoutKey.For(plan.ObservedRules), _engine.Lanes, _time, capture =>
        {
            capture.Lost += reason => Log.CaptureLost(_logger, name, reason);
            capture.RetryFailed += (attempt, reason, next) => Log.CaptureRetry(_logger, name, attempt, reason, next.TotalSeconds);
            capture.Resumed += attempts =>
            {
                Log.CaptureResumed(_logger, name, attempts);
                ResolveInterfaces(plan);
            };
        });
    }

    /// <summary>
    /// Resolves the interface names <paramref name="plan"/>'s rules match to the indexes the interfaces have now, and
    /// says once when some name matches none and once when all do again. Run at start, at each reload, when capture
    /// resumes and, while some rule names an interface, every 2 s (<see cref="WatchInterfaces"/>): an interface deleted
    /// and created again has a new index.
    /// </summary>
    private void ResolveInterfaces(EnforcementPlan plan)
    {
        if (!plan.Observed.MatchesInterfaces)
        {
            return;
        }

        var missing = string.Join(", ", plan.Observed.ResolveInterfaces(HostInterfaces.Read()).Select(n => $"\"{n}\""));
        var before = Interlocked.Exchange(ref _missingInterfaces, missing);
        if (missing == before)
        {
            return;
        }

        if (missing.Length > 0)
        {
            Log.InterfacesMissing(_logger, missing);
        }
        else
        {
            Log.InterfacesFound(_logger);
        }
    }

    private void StartInterfaceWatch()
    {
        _interfaceWatch = _time.CreateTimer(_ => ResolveInterfaces(_plan!), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        WatchInterfaces(_plan!);
    }

    /// <summary>Runs the interface watch only while <paramref name="plan"/> has a rule that names an interface: otherwise it has nothing to look at.</summary>
    private void WatchInterfaces(EnforcementPlan plan)
    {
        var period = plan.Observed.MatchesInterfaces ? InterfaceWatchPeriod : Timeout.InfiniteTimeSpan;
        _interfaceWatch?.Change(period, period);
    }

    private void StartWatchdog()
    {
        // systemd sets WATCHDOG_USEC when the unit has WatchdogSec=; ping at half that interval.
        if (!long.TryParse(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), out var usec) || usec <= 0)
        {
            return;
        }

        var period = TimeSpan.FromMicroseconds(usec / 2);
        _watchdog = new Timer(_ => Watchdog(), null, period, period);
    }

    /// <summary>
    /// Pings systemd only while every capture thread and every queue thread runs and answers (each deciding its
    /// packets): a dead or stuck one stops the pings, and systemd restarts the daemon. Capture waiting for its
    /// interface is not dead: it retries by itself, and a restart would not bring the interface back.
    /// </summary>
    private void Watchdog()
    {
        var why = _engine?.Probe() ?? _queues.Probe();
        if (why is null)
        {
            _unhealthy = null;
            Notify("WATCHDOG=1");
        }
        else if (_unhealthy is null)
        {
            _unhealthy = why;
            Log.Unhealthy(_logger, why);
            Notify("STATUS=unhealthy: " + why);
        }
    }

    private void Notify(string state)
    {
        if (_notifier.IsEnabled)
        {
            _notifier.Notify(new ServiceState(state));
        }
    }
}
