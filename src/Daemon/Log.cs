using Microsoft.Extensions.Logging;

namespace Shaper.Daemon;

/// <summary>The daemon's log events: one line each, stable event ids (journald-friendly).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "shaperd {Version} starting with {ConfigPath}")]
    public static partial void Starting(ILogger logger, string version, string configPath);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "ready: {Rules} rules ({Kernel} kernel, {Observe} observe), backend {Backend}, capture {Capture}")]
    public static partial void Ready(ILogger logger, int rules, int kernel, int observe, string backend, string capture);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "{Diagnostic}")]
    public static partial void ConfigDiagnostic(ILogger logger, string diagnostic);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "reload ({Trigger}): {Rules} rules applied in {Milliseconds:F1} ms; {Resets}")]
    public static partial void Reloaded(ILogger logger, string trigger, int rules, double milliseconds, string resets);

    [LoggerMessage(EventId = 5, Level = LogLevel.Error, Message = "reload ({Trigger}) refused, the running rules stay: {Reason}")]
    public static partial void ReloadRefused(ILogger logger, string trigger, string reason);

    [LoggerMessage(EventId = 6, Level = LogLevel.Information, Message = "stopping")]
    public static partial void Stopping(ILogger logger);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "rule {Rule}: key {Key} over its limit, {Outcome} ({Limited} limited, {Passed} passed so far; one line per key per {WindowSeconds} s at most)")]
    public static partial void OverLimit(ILogger logger, string rule, string key, string outcome, long limited, long passed, double windowSeconds);

    [LoggerMessage(EventId = 8, Level = LogLevel.Information, Message = "rule {Rule}: blocked {Address} for {Seconds} s")]
    public static partial void Blocked(ILogger logger, string rule, string address, double seconds);


    [LoggerMessage(EventId = 10, Level = LogLevel.Error, Message = "metrics endpoint {Endpoint} failed: {Reason}")]
    public static partial void MetricsFailed(ILogger logger, string endpoint, string reason);

    [LoggerMessage(EventId = 11, Level = LogLevel.Error, Message = "{Reason}")]
    public static partial void StartFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 12, Level = LogLevel.Error, Message = "kernel: {Reason}")]
    public static partial void KernelFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 13, Level = LogLevel.Warning, Message = "the shaper's kernel rules were gone (someone flushed the ruleset); re-installed rules and blocks")]
    public static partial void Reinstalled(ILogger logger);

    [LoggerMessage(EventId = 50, Level = LogLevel.Error, Message = "capture on {Interface} lost: {Reason}; retrying until it returns")]
    public static partial void CaptureLost(ILogger logger, string @interface, string reason);

    [LoggerMessage(EventId = 51, Level = LogLevel.Warning, Message = "capture on {Interface}: attempt {Attempt} failed: {Reason}; next in {Seconds:F1} s")]
    public static partial void CaptureRetry(ILogger logger, string @interface, int attempt, string reason, double seconds);

    [LoggerMessage(EventId = 52, Level = LogLevel.Information, Message = "capture on {Interface} running again after {Attempts} failed attempts")]
    public static partial void CaptureResumed(ILogger logger, string @interface, int attempts);

    [LoggerMessage(EventId = 56, Level = LogLevel.Warning, Message = "match.iface: no interface is named {Names} now; the rules naming it match no packet until one is (the interfaces are read again every 2 s)")]
    public static partial void InterfacesMissing(ILogger logger, string names);

    [LoggerMessage(EventId = 57, Level = LogLevel.Information, Message = "match.iface: every interface the rules name is there now")]
    public static partial void InterfacesFound(ILogger logger);

    [LoggerMessage(EventId = 53, Level = LogLevel.Critical, Message = "not healthy, the watchdog stops so systemd restarts the daemon: {Reason}")]
    public static partial void Unhealthy(ILogger logger, string reason);
}
