using System.Text.Json.Serialization;

namespace Shaper.Daemon.Control;

/// <summary>The <c>status</c> reply: the daemon's state in one object. Field names and order are a contract (<c>shaperctl --json status</c>).</summary>
internal sealed record StatusReply
{
    [JsonPropertyName("version")]
    public required string? Version { get; init; }

    [JsonPropertyName("config")]
    public required string Config { get; init; }

    [JsonPropertyName("rules")]
    public required int Rules { get; init; }

    [JsonPropertyName("backend")]
    public required string Backend { get; init; }

    [JsonPropertyName("kernel")]
    public required string Kernel { get; init; }

    [JsonPropertyName("capture")]
    public required string Capture { get; init; }

    [JsonPropertyName("capture_filter")]
    public required string CaptureFilter { get; init; }

    [JsonPropertyName("captured")]
    public required long Captured { get; init; }

    [JsonPropertyName("capture_dropped")]
    public required long CaptureDropped { get; init; }

    /// <summary>Always 0: capture threads decide the packets they read, with no hand-off to drop at. Kept for readers of the reply.</summary>
    [JsonPropertyName("handoff_dropped")]
    public required long HandoffDropped { get; init; }

    [JsonPropertyName("engine_packets")]
    public required long EnginePackets { get; init; }

    [JsonPropertyName("blocks")]
    public required int Blocks { get; init; }

    [JsonPropertyName("kernel_reinstalls")]
    public required long KernelReinstalls { get; init; }

    [JsonPropertyName("netlink_fallbacks")]
    public required long NetlinkFallbacks { get; init; }

    [JsonPropertyName("netlink_last_error")]
    public required string? NetlinkLastError { get; init; }

    [JsonPropertyName("detect_to_block_count")]
    public required long DetectToBlockCount { get; init; }

    [JsonPropertyName("detect_to_block_p50_ms")]
    public required double DetectToBlockP50Ms { get; init; }

    [JsonPropertyName("detect_to_block_p99_ms")]
    public required double DetectToBlockP99Ms { get; init; }

    [JsonPropertyName("reloads_ok")]
    public required long ReloadsOk { get; init; }

    [JsonPropertyName("reloads_failed")]
    public required long ReloadsFailed { get; init; }

    [JsonPropertyName("last_apply_ms")]
    public required double LastApplyMs { get; init; }

    [JsonPropertyName("uptime_s")]
    public required long UptimeS { get; init; }

    [JsonPropertyName("blocks_refused")]
    public long BlocksRefused { get; init; }

    [JsonPropertyName("blocks_last_refusal")]
    public string? BlocksLastRefusal { get; init; }

    /// <summary>Observe-rule blocks refused at max_blocks since start.</summary>
    [JsonPropertyName("blocks_over_max")]
    public long BlocksOverMax { get; init; }

    /// <summary>Where blocks are kept: "saved", "saving failed, retrying: why", or "memory only: why".</summary>
    [JsonPropertyName("store")]
    public string Store { get; init; } = "saved";

    /// <summary>Block changes waiting in memory for a write that failed; retried with backoff.</summary>
    [JsonPropertyName("store_backlog")]
    public int StoreBacklog { get; init; }

    /// <summary>Differences between the kernel and the daemon's state that the reconciler repaired, in all.</summary>
    [JsonPropertyName("kernel_repairs")]
    public long KernelRepairs { get; init; }

    /// <summary>The same by kind: table, chain, rule, set, set_flushed, element, unknown.</summary>
    [JsonPropertyName("kernel_repairs_by_kind")]
    public IReadOnlyDictionary<string, long> KernelRepairsByKind { get; init; } = new Dictionary<string, long>();

    /// <summary>running, retrying (the interface is missing or capture was lost; retried with backoff), or off.</summary>
    [JsonPropertyName("capture_state")]
    public string CaptureState { get; init; } = "off";

    /// <summary>Why capture is not running (libpcap's reason), null while it runs.</summary>
    [JsonPropertyName("capture_error")]
    public string? CaptureError { get; init; }

    /// <summary>Failed attempts to open capture since it last ran.</summary>
    [JsonPropertyName("capture_retries")]
    public int CaptureRetries { get; init; }

    /// <summary>Times capture was lost after running (the interface deleted, a libpcap error).</summary>
    [JsonPropertyName("capture_losses")]
    public long CaptureLosses { get; init; }

    /// <summary>Capture threads, each deciding its share of the packets.</summary>
    [JsonPropertyName("capture_threads")]
    public int CaptureThreads { get; init; }

    /// <summary>Capture threads running real-time (SCHED_FIFO) now: all of them while light where the daemon may, none while busy or where it may not.</summary>
    [JsonPropertyName("capture_realtime_threads")]
    public int CaptureRealtimeThreads { get; init; }

    /// <summary>Times a capture thread stepped down from real-time to normal scheduling because it was busy.</summary>
    [JsonPropertyName("capture_realtime_stepdowns")]
    public long CaptureRealtimeStepDowns { get; init; }

    /// <summary>What the threads share packets by (PACKET_FANOUT's hash), null without capture.</summary>
    [JsonPropertyName("capture_fanout")]
    public string? CaptureFanout { get; init; }

    /// <summary>How long the first packet of a batch waited in the kernel's capture buffer, median over recent batches (ms; -1 with none).</summary>
    [JsonPropertyName("capture_wait_p50_ms")]
    public double CaptureWaitP50Ms { get; init; }

    /// <summary>The same, 99th percentile.</summary>
    [JsonPropertyName("capture_wait_p99_ms")]
    public double CaptureWaitP99Ms { get; init; }

    /// <summary>False once a capture or queue thread stopped or stopped answering (seen at the watchdog's probe, under systemd); the watchdog then stops.</summary>
    [JsonPropertyName("engine_healthy")]
    public bool EngineHealthy { get; init; } = true;

    /// <summary>Why the engine is not healthy, null while it is.</summary>
    [JsonPropertyName("engine_unhealthy")]
    public string? EngineUnhealthy { get; init; }

    [JsonPropertyName("kernel_rules")]
    public int KernelRules { get; init; }

    [JsonPropertyName("observe_rules")]
    public int ObserveRules { get; init; }

    /// <summary>Keys observe rules put into (or kept longer in) their drop and reject sets since start.</summary>
    [JsonPropertyName("holds_installed")]
    public long HoldsInstalled { get; init; }

    /// <summary>Of those, the keys the kernel refused.</summary>
    [JsonPropertyName("holds_refused")]
    public long HoldsRefused { get; init; }

    /// <summary>Holds the kernel took in only after they had ended (the host was too busy to install them in time), taken out again at once.</summary>
    [JsonPropertyName("holds_late")]
    public long HoldsLate { get; init; }

    /// <summary>Keys held again while a release round took them out of their set, and put back in after it.</summary>
    [JsonPropertyName("holds_reinstalled")]
    public long HoldsReinstalled { get; init; }

    /// <summary>
    /// Captured packets of held keys that got past the kernel before their hold was installed (capture ran behind, or the
    /// install was slow), counted as passed and charged to their keys' limiters.
    /// </summary>
    [JsonPropertyName("holds_slipped")]
    public long HoldsSlipped { get; init; }

    /// <summary>How late keys left their drop and reject sets after their hold ended, over the last 4096 release rounds.</summary>
    [JsonPropertyName("hold_release_late_p99_ms")]
    public double HoldReleaseLateP99Ms { get; init; }

    [JsonPropertyName("hold_release_late_max_ms")]
    public double HoldReleaseLateMaxMs { get; init; }

    /// <summary>Capture of the packet that crossed to its key held in the kernel, over the last 4096 holds (median).</summary>
    [JsonPropertyName("detect_to_hold_p50_ms")]
    public double DetectToHoldP50Ms { get; init; }

    [JsonPropertyName("detect_to_hold_p99_ms")]
    public double DetectToHoldP99Ms { get; init; }

    /// <summary>Why the last reload or rules apply failed (the running rules, capture and engine stayed), null when none has.</summary>
    [JsonPropertyName("last_reload_error")]
    public string? LastReloadError { get; init; }

    /// <summary>When that was (UTC, ISO 8601), null when no reload has failed.</summary>
    [JsonPropertyName("last_reload_error_at")]
    public string? LastReloadErrorAt { get; init; }

    /// <summary>Captured packets of observe rules over the [global] cap (the kernel dropped a hard rule's), once per rule; null without a cap.</summary>
    [JsonPropertyName("global_limited")]
    public long? GlobalLimited { get; init; }

    /// <summary>This host's fleet sync; null when no rule has scope = "fleet".</summary>
    [JsonPropertyName("fleet")]
    public FleetStatusReply? Fleet { get; init; }

    /// <summary>Each queue rule's NFQUEUE queue and whether its thread serves it; empty without queue rules.</summary>
    [JsonPropertyName("queues")]
    public IReadOnlyList<QueueStateReply> Queues { get; init; } = [];

    /// <summary>Garbage collections since start (all generations): each suspends every thread, the queue's release threads too.</summary>
    [JsonPropertyName("gc_collections")]
    public int GcCollections { get; init; }

    /// <summary>How long those collections held the threads suspended in all, milliseconds.</summary>
    [JsonPropertyName("gc_pause_total_ms")]
    public double GcPauseTotalMs { get; init; }

    /// <summary>
    /// Where detection to block went, over an observe rule's recent blocks: p50 and p99 of each hop in ms (capture: the
    /// packet's arrival to its block queued; queue: to the install thread taking it; commit: to the kernel's commit of
    /// its batch) and of the batch sizes; empty before the first.
    /// </summary>
    [JsonPropertyName("detect_to_block_hops")]
    public IReadOnlyDictionary<string, double> DetectToBlockHops { get; init; } = new Dictionary<string, double>();
}
