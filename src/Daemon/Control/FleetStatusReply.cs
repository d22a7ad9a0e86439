using System.Text.Json.Serialization;

namespace Shaper.Daemon.Control;

/// <summary>
/// The <c>fleet.status</c> reply (also <c>status</c>'s <c>fleet</c> field): this host's sync with the fleet store.
/// <c>mode</c> is <c>shared</c> while the store answers and <c>share_only</c> while each host enforces limit ÷ hosts.
/// Field names and order are a contract (<c>shaperctl --json fleet status</c>).
/// </summary>
internal sealed record FleetStatusReply
{
    [JsonPropertyName("host")]
    public required string Host { get; init; }

    [JsonPropertyName("redis")]
    public required string Redis { get; init; }

    [JsonPropertyName("mode")]
    public required string Mode { get; init; }

    [JsonPropertyName("rules")]
    public required IReadOnlyList<string> Rules { get; init; }

    [JsonPropertyName("connected")]
    public required bool Connected { get; init; }

    [JsonPropertyName("sync_ms")]
    public required double SyncMs { get; init; }

    [JsonPropertyName("hosts")]
    public required int Hosts { get; init; }

    [JsonPropertyName("breaker")]
    public required string Breaker { get; init; }

    [JsonPropertyName("breaker_failure_rate")]
    public required double BreakerFailureRate { get; init; }

    [JsonPropertyName("breaker_slow_call_rate")]
    public required double BreakerSlowCallRate { get; init; }

    [JsonPropertyName("breaker_window_calls")]
    public required int BreakerWindowCalls { get; init; }

    [JsonPropertyName("breaker_transitions")]
    public required long BreakerTransitions { get; init; }

    [JsonPropertyName("calls_successful")]
    public required long CallsSuccessful { get; init; }

    [JsonPropertyName("calls_failed")]
    public required long CallsFailed { get; init; }

    [JsonPropertyName("calls_slow")]
    public required long CallsSlow { get; init; }

    [JsonPropertyName("calls_not_permitted")]
    public required long CallsNotPermitted { get; init; }

    [JsonPropertyName("retries")]
    public required long Retries { get; init; }

    [JsonPropertyName("timeouts")]
    public required long Timeouts { get; init; }

    [JsonPropertyName("retry_quota_left")]
    public required int RetryQuotaLeft { get; init; }

    [JsonPropertyName("retry_quota_refused")]
    public required long RetryQuotaRefused { get; init; }

    [JsonPropertyName("syncs")]
    public required long Syncs { get; init; }

    [JsonPropertyName("sync_failures")]
    public required long SyncFailures { get; init; }

    [JsonPropertyName("sync_p50_ms")]
    public required double SyncP50Ms { get; init; }

    [JsonPropertyName("sync_p99_ms")]
    public required double SyncP99Ms { get; init; }

    [JsonPropertyName("keys_last_sync")]
    public required int KeysLastSync { get; init; }

    [JsonPropertyName("keys_sent")]
    public required long KeysSent { get; init; }

    [JsonPropertyName("carried_keys")]
    public required int CarriedKeys { get; init; }

    [JsonPropertyName("dropped_hits")]
    public required long DroppedHits { get; init; }

    [JsonPropertyName("last_error")]
    public required string? LastError { get; init; }

    /// <summary>A store call longer than this counts as slow in the breaker's slow-call rate (<c>[fleet] slow_call</c>).</summary>
    [JsonPropertyName("breaker_slow_call_ms")]
    public required double BreakerSlowCallMs { get; init; }

    /// <summary>Blocks this host published to the fleet since start.</summary>
    [JsonPropertyName("blocks_published")]
    public required long BlocksPublished { get; init; }

    /// <summary>Blocks of the fleet installed on this host since start.</summary>
    [JsonPropertyName("blocks_installed")]
    public required long BlocksInstalled { get; init; }

    /// <summary>Block deletions this host sent to the fleet (<c>shaperctl block del</c> of a fleet block) since start.</summary>
    [JsonPropertyName("blocks_deleted")]
    public required long BlocksDeleted { get; init; }

    /// <summary>Blocks removed from this host since start because the fleet deleted them.</summary>
    [JsonPropertyName("blocks_removed")]
    public required long BlocksRemoved { get; init; }

    /// <summary>The reply for <paramref name="loop"/>.</summary>
    public static FleetStatusReply Of(FleetLoop loop)
    {
        var s = loop.Sync.Status();
        return new FleetStatusReply
        {
            Host = s.Host,
            Redis = loop.Settings.Redis,
            Mode = s.Shared ? "shared" : "share_only",
            Rules = loop.Rules,
            Connected = s.Connected,
            SyncMs = loop.Settings.Sync.TotalMilliseconds,
            Hosts = loop.Settings.Hosts,
            Breaker = FleetLoop.Name(s.Breaker.State),
            BreakerFailureRate = Math.Round(s.Breaker.FailureRate, 1),
            BreakerSlowCallRate = Math.Round(s.Breaker.SlowCallRate, 1),
            BreakerWindowCalls = s.Breaker.BufferedCalls,
            BreakerTransitions = s.Breaker.Transitions,
            CallsSuccessful = s.Breaker.Successful,
            CallsFailed = s.Breaker.Failed,
            CallsSlow = s.Breaker.Slow,
            CallsNotPermitted = s.Breaker.NotPermitted,
            Retries = s.Retries,
            Timeouts = s.Timeouts,
            RetryQuotaLeft = s.QuotaLeft,
            RetryQuotaRefused = s.QuotaRefused,
            Syncs = s.Syncs,
            SyncFailures = s.SyncFailures,
            SyncP50Ms = Round(s.SyncP50Ms),
            SyncP99Ms = Round(s.SyncP99Ms),
            KeysLastSync = s.LastKeys,
            KeysSent = s.KeysSent,
            CarriedKeys = s.CarriedKeys,
            DroppedHits = s.DroppedHits,
            LastError = s.LastError,
            BreakerSlowCallMs = loop.Sync.Policy.Breaker.Options.SlowCallDuration.TotalMilliseconds,
            BlocksPublished = loop.Sync.Published,
            BlocksInstalled = loop.BlocksInstalled,
            BlocksDeleted = loop.Sync.Deleted,
            BlocksRemoved = loop.BlocksRemoved,
        };
    }

    private static double Round(double value) => double.IsNaN(value) ? -1 : Math.Round(value, 3);
}
