using Microsoft.Extensions.Logging;

namespace Shaper.Daemon;

/// <summary>The kernel's events: blocks, their refusals, and the reconciler's repairs (one event per kind of failure).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 60, Level = LogLevel.Warning, Message = "kernel refused the block of {Network}: {Reason}")]
    public static partial void BlockRefused(ILogger logger, string network, string reason);

    [LoggerMessage(EventId = 61, Level = LogLevel.Warning, Message = "kernel state differed from the shaper's ({Kind}: {Detail}); repaired in {Milliseconds:F1} ms")]
    public static partial void Repaired(ILogger logger, string kind, string detail, double milliseconds);

    [LoggerMessage(EventId = 62, Level = LogLevel.Error, Message = "kernel state differs from the shaper's ({Kind}) and the repair failed: {Reason}")]
    public static partial void RepairFailed(ILogger logger, string kind, string reason);

    [LoggerMessage(EventId = 63, Level = LogLevel.Error, Message = "kernel: re-installing {Count} blocks failed: {Reason}; installing them one batch at a time")]
    public static partial void BulkInstallFailed(ILogger logger, int count, string reason);

    [LoggerMessage(EventId = 66, Level = LogLevel.Information, Message = "kernel: {Count} blocks already in the kernel (the ruleset is at generation {Generation}, where this daemon left it); read in {Milliseconds:F1} ms, none installed again")]
    public static partial void BlocksKept(ILogger logger, int count, uint generation, double milliseconds);

    [LoggerMessage(EventId = 64, Level = LogLevel.Information, Message = "kernel: {Count} blocks installed in {Milliseconds:F1} ms")]
    public static partial void BlocksRestored(ILogger logger, int count, double milliseconds);

    [LoggerMessage(EventId = 65, Level = LogLevel.Error, Message = "kernel: saving blocks failed: {Reason}")]
    public static partial void SaveFailed(ILogger logger, string reason);
}
