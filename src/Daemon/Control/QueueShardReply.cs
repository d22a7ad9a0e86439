using System.Text.Json.Serialization;

namespace Shaper.Daemon.Control;

/// <summary>One of a queue rule's queues in the <c>counters</c> reply, when the rule has several (<c>[daemon] queues</c>).</summary>
internal sealed record QueueShardReply
{
    /// <summary>The NFQUEUE number.</summary>
    [JsonPropertyName("queue_num")]
    public required int Number { get; init; }

    [JsonPropertyName("passed")]
    public required long Passed { get; init; }

    [JsonPropertyName("delayed")]
    public required long Delayed { get; init; }

    /// <summary>Dropped by a full FIFO or at max_held.</summary>
    [JsonPropertyName("limited")]
    public required long Limited { get; init; }

    [JsonPropertyName("held")]
    public required int Held { get; init; }

    /// <summary>Keys this queue's table tracks: each key is on one queue.</summary>
    [JsonPropertyName("keys_tracked")]
    public required int KeysTracked { get; init; }

    [JsonPropertyName("enobufs")]
    public required long NoBuffers { get; init; }

    /// <summary>The kernel's last packet id for this queue: packets queued to it since it was bound.</summary>
    [JsonPropertyName("kernel_id_sequence")]
    public required long KernelIdSequence { get; init; }
}
