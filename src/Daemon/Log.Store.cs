using Microsoft.Extensions.Logging;

namespace Shaper.Daemon;

/// <summary>The block store's log events (80–89).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 80, Level = LogLevel.Warning, Message = "block store: {Message}")]
    public static partial void StoreWriteFailed(ILogger logger, string message);

    [LoggerMessage(EventId = 81, Level = LogLevel.Information, Message = "block store: {Message}")]
    public static partial void StoreRecovered(ILogger logger, string message);

    [LoggerMessage(EventId = 82, Level = LogLevel.Warning, Message = "block store: {Message}")]
    public static partial void StoreDamaged(ILogger logger, string message);

    [LoggerMessage(EventId = 83, Level = LogLevel.Error, Message = "block store: {Message}")]
    public static partial void StoreUnsafe(ILogger logger, string message);

    [LoggerMessage(EventId = 84, Level = LogLevel.Information, Message = "block store: {Message}")]
    public static partial void StoreImported(ILogger logger, string message);

    [LoggerMessage(EventId = 85, Level = LogLevel.Error, Message = "block store: {Message}")]
    public static partial void StoreUnsaved(ILogger logger, string message);

    [LoggerMessage(EventId = 86, Level = LogLevel.Warning, Message = "max_blocks: {Refused} observe-rule blocks refused so far, {Count} blocks in force of at most {Max}")]
    public static partial void BlocksOverCap(ILogger logger, long refused, int count, int max);

    /// <summary>One line for what the store reports, at the level its kind calls for.</summary>
    public static void StoreNotice(ILogger logger, Shaper.Firewall.BlockStoreNotice notice)
    {
        switch (notice.Kind)
        {
            case Shaper.Firewall.BlockStoreNoticeKind.WriteFailed:
                StoreWriteFailed(logger, notice.Message);
                break;
            case Shaper.Firewall.BlockStoreNoticeKind.WriteRecovered:
                StoreRecovered(logger, notice.Message);
                break;
            case Shaper.Firewall.BlockStoreNoticeKind.DamagedRecords or Shaper.Firewall.BlockStoreNoticeKind.DamagedDatabase:
                StoreDamaged(logger, notice.Message);
                break;
            case Shaper.Firewall.BlockStoreNoticeKind.UnsafeDirectory:
                StoreUnsafe(logger, notice.Message);
                break;
            default:
                StoreImported(logger, notice.Message);
                break;
        }
    }
}
