using Microsoft.Extensions.Logging;

namespace Shaper.Daemon;

/// <summary>The drop and reject sets' events.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 70, Level = LogLevel.Warning, Message = "kernel refused {Count} keys of {Set}: {Reason}")]
    public static partial void HoldsRefused(ILogger logger, int count, string set, string reason);
}
