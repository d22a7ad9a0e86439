using Microsoft.Extensions.Logging;

namespace Shaper.Daemon;

/// <summary>The start's feature probe (<c>shaperd --check</c> prints the same lines).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 40, Level = LogLevel.Warning, Message = "feature {Feature}")]
    public static partial void FeatureMissing(ILogger logger, string feature);

    [LoggerMessage(EventId = 41, Level = LogLevel.Warning, Message = "backend {Backend}: {Reason}; trying it anyway")]
    public static partial void BackendUnusable(ILogger logger, string backend, string reason);
}
