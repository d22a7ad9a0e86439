using Microsoft.Extensions.Logging;

namespace Shaper.Daemon;

/// <summary>The NFQUEUE queue's events.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 90, Level = LogLevel.Information, Message = "queue rule {Rule} holds its packets on NFQUEUE {Number}")]
    public static partial void QueueStarted(ILogger logger, string rule, int number);

    [LoggerMessage(EventId = 91, Level = LogLevel.Information, Message = "queue rule {Rule} (NFQUEUE {Number}) let go: {Released} held packets given their verdict first")]
    public static partial void QueueStopped(ILogger logger, string rule, int number, int released);

    [LoggerMessage(EventId = 92, Level = LogLevel.Error, Message = "queue rule {Rule} (NFQUEUE {Number}) stopped serving: {Reason}; its packets pass unshaped (bypass)")]
    public static partial void QueueFailed(ILogger logger, string rule, int number, string reason);

    [LoggerMessage(EventId = 93, Level = LogLevel.Error, Message = "the queue rules' iptables chain could not be written: {Reason}")]
    public static partial void QueueRulesFailed(ILogger logger, string reason);
}
