namespace Shaper.Fleet;

/// <summary>What the fleet sync shows: mode, breaker, calls by outcome, retries and quota, sync latency and keys, carried hits.</summary>
public sealed record FleetStatus(
    string Host,
    bool Shared,
    bool Connected,
    BreakerSnapshot Breaker,
    long Syncs,
    long SyncFailures,
    long Retries,
    long Timeouts,
    int QuotaLeft,
    long QuotaRefused,
    double SyncP50Ms,
    double SyncP99Ms,
    int LastKeys,
    long KeysSent,
    int CarriedKeys,
    long DroppedHits,
    string? LastError);
