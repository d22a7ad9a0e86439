using System.Text.Json.Serialization;

namespace Shaper.Daemon.Control;

/// <summary>A queue rule's own figures in the <c>counters</c> reply: the daemon's side and the kernel's (<c>/proc/net/netfilter/nfnetlink_queue</c>), over all its queues.</summary>
internal sealed record QueueCountersReply
{
    /// <summary>The NFQUEUE number (the first of the rule's).</summary>
    [JsonPropertyName("queue_num")]
    public required int Number { get; init; }

    /// <summary>Packets held now.</summary>
    [JsonPropertyName("held")]
    public required int Held { get; init; }

    /// <summary>Packets dropped by a full FIFO (also in <c>limited</c>).</summary>
    [JsonPropertyName("dropped_overflow")]
    public required long DroppedOverflow { get; init; }

    /// <summary>Packets dropped because <c>max_held</c> were held (also in <c>limited</c>).</summary>
    [JsonPropertyName("dropped_max_held")]
    public required long DroppedMaxHeld { get; init; }

    /// <summary>Packets accepted at once because their headers did not parse (also in <c>passed</c>).</summary>
    [JsonPropertyName("unparsed")]
    public required long Unparsed { get; init; }

    /// <summary>Median hold time of the last released packets, milliseconds.</summary>
    [JsonPropertyName("delay_p50_ms")]
    public required double DelayP50Ms { get; init; }

    [JsonPropertyName("delay_p99_ms")]
    public required double DelayP99Ms { get; init; }

    /// <summary>The longest hold time since the queue started, milliseconds.</summary>
    [JsonPropertyName("delay_max_ms")]
    public required double DelayMaxMs { get; init; }

    /// <summary>Receives that failed with ENOBUFS (the socket's buffer overflowed).</summary>
    [JsonPropertyName("enobufs")]
    public required long NoBuffers { get; init; }

    /// <summary>Verdicts the kernel refused or that could not be sent.</summary>
    [JsonPropertyName("verdict_errors")]
    public required long VerdictErrors { get; init; }

    /// <summary>The kernel's count of packets it holds for the queue now.</summary>
    [JsonPropertyName("kernel_waiting")]
    public required long KernelWaiting { get; init; }

    /// <summary>The kernel's count of packets dropped (or, fail-open, accepted unshaped) because the queue was full.</summary>
    [JsonPropertyName("kernel_queue_dropped")]
    public required long KernelQueueDropped { get; init; }

    /// <summary>The kernel's count of packets lost because the socket's buffer was full.</summary>
    [JsonPropertyName("kernel_user_dropped")]
    public required long KernelUserDropped { get; init; }

    /// <summary>The kernel's last packet id: packets queued since the queue was bound.</summary>
    [JsonPropertyName("kernel_id_sequence")]
    public required long KernelIdSequence { get; init; }

    /// <summary>With <c>[daemon] queues</c> &gt; 1, each of the rule's queues (the figures above add them up); empty with one.</summary>
    [JsonPropertyName("queues")]
    public IReadOnlyList<QueueShardReply> Queues { get; init; } = [];
}
