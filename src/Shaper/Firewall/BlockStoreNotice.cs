namespace Shaper.Firewall;

/// <summary>What the block store tells its owner to log: one line each.</summary>
/// <param name="Kind">Which kind of event, for a stable log event per kind.</param>
/// <param name="Message">The line, saying what happened and what it costs.</param>
public readonly record struct BlockStoreNotice(BlockStoreNoticeKind Kind, string Message);
