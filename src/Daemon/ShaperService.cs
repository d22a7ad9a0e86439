using System.Net;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Shaper.Capture;
using Shaper.Control;
using Shaper.Engine;
using Shaper.Metrics;
using Shaper.Packets;
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
    private const int RingCapacity = 1 << 16;

    private readonly DaemonArguments _arguments;
    private readonly ILogger<ShaperService> _logger;
    private readonly ISystemdNotifier _notifier;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _reloadLock = new(1, 1);
    private readonly PacketRing _ring = new(RingCapacity);
    private readonly KernelEnforcer _kernel;
    private ShaperConfig _config = new();
    private CompiledRuleSet? _rules;
    private EngineRunner? _engine;
    private LiveCapture? _capture;
    private string _captureFilter = "";
    private ControlServer? _control;
    private MetricsServer? _metrics;
    private PosixSignalRegistration? _sighup;
    private Timer? _watchdog;
    private long _reloadsOk;
    private long _reloadsFailed;
    private double _lastApplyMs;

    public ShaperService(DaemonArguments arguments, ILogger<ShaperService> logger, ISystemdNotifier notifier, TimeProvider time, KernelEnforcer kernel)
    {
        _arguments = arguments;
        _logger = logger;
        _notifier = notifier;
        _time = time;
        _kernel = kernel;
    }

    private string SocketPath => _arguments.SocketOverride ?? _config.Daemon.Socket;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Log.Starting(_logger, typeof(ShaperService).Assembly.GetName().Version?.ToString(3) ?? "?", _arguments.ConfigPath);
        Notify("STATUS=loading configuration");
        var loaded = ConfigLoader.Load(_arguments.ConfigPath);
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
        _rules = CompiledRuleSet.Compile(config);
        Notify("STATUS=applying the kernel ruleset");
        var started = _time.GetTimestamp();
        await _kernel.StartAsync(config, cancellationToken).ConfigureAwait(false);
        _lastApplyMs = _time.GetElapsedTime(started).TotalMilliseconds;

        _engine = new EngineRunner(_ring, NewEngine(_rules), _time);
        StartCapture(config);
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
        var kernelRules = config.Rules.Count(r => r.Enforce == EnforceKind.Kernel);
        var observeRules = config.Rules.Count(r => r.Enforce == EnforceKind.Observe);
        Log.Ready(_logger, config.Rules.Count, kernelRules, observeRules, _kernel.BackendName, _capture is null ? "off" : config.Daemon.Interface);
        Notify($"STATUS=running: {config.Rules.Count} rules, backend {_kernel.BackendName}");
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Log.Stopping(_logger);
        Notify("STATUS=stopping");
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

        _capture?.Dispose();
        _capture = null;
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

    /// <summary>Re-reads the configuration file (or applies <paramref name="text"/>); a bad file keeps the running rules.</summary>
    public async Task<(bool Ok, string Message)> ReloadAsync(string trigger, string? text)
    {
        await _reloadLock.WaitAsync().ConfigureAwait(false);
        try
        {
            var loaded = text is null ? ConfigLoader.Load(_arguments.ConfigPath) : ConfigLoader.Parse(text, "(shaperctl rules apply)");
            if (loaded.Config is not { } config)
            {
                var errors = string.Join("; ", loaded.Diagnostics.Where(d => d.IsError).Select(d => d.ToString()));
                Log.ReloadRefused(_logger, trigger, errors);
                Interlocked.Increment(ref _reloadsFailed);
                return (false, errors);
            }

            var started = _time.GetTimestamp();
            var applied = await _kernel.ReloadAsync(config, CancellationToken.None).ConfigureAwait(false);
            if (applied is not null)
            {
                Log.ReloadRefused(_logger, trigger, applied);
                Interlocked.Increment(ref _reloadsFailed);
                return (false, applied);
            }

            _lastApplyMs = _time.GetElapsedTime(started).TotalMilliseconds;
            _config = config;
            _rules = CompiledRuleSet.Compile(config);
            _engine?.Swap(NewEngine(_rules));
            if (BpfFilter.Build(config.Rules) != _captureFilter || _capture is null != (config.Daemon.Interface.Length == 0))
            {
                _capture?.Dispose();
                _capture = null;
                StartCapture(config);
            }

            Interlocked.Increment(ref _reloadsOk);
            Log.Reloaded(_logger, trigger, config.Rules.Count, _lastApplyMs);
            Notify($"STATUS=running: {config.Rules.Count} rules, backend {_kernel.BackendName}");
            return (true, $"{config.Rules.Count} rules applied");
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    /// <summary>The engine runs the observe rules over captured packets; the kernel counts its own rules.</summary>
    private RuleEngine NewEngine(CompiledRuleSet rules)
    {
        var observed = rules.Config with { Rules = [.. rules.Config.Rules.Where(r => r.Enforce == EnforceKind.Observe)] };
        var engine = new RuleEngine(CompiledRuleSet.Compile(observed), rules.Config.Daemon.MaxKeys);
        engine.KeyBlocked += _kernel.Blocks.Post;
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

    private void StartCapture(ShaperConfig config)
    {
        _captureFilter = BpfFilter.Build(config.Rules);
        if (config.Daemon.Interface.Length == 0 || _captureFilter.Length == 0)
        {
            return;
        }

        try
        {
            _capture = LiveCapture.Start(config.Daemon.Interface, _captureFilter, _ring);
        }
        catch (InvalidOperationException e)
        {
            Log.CaptureFailed(_logger, config.Daemon.Interface, e.Message);
            throw;
        }
    }

    private void StartWatchdog()
    {
        // systemd sets WATCHDOG_USEC when the unit has WatchdogSec=; ping at half that interval.
        if (!long.TryParse(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), out var usec) || usec <= 0)
        {
            return;
        }

        var period = TimeSpan.FromMicroseconds(usec / 2);
        _watchdog = new Timer(_ => Notify("WATCHDOG=1"), null, period, period);
    }

    private void Notify(string state)
    {
        if (_notifier.IsEnabled)
        {
            _notifier.Notify(new ServiceState(state));
        }
    }
}
