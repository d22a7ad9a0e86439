using System.Text.Json.Serialization;

namespace Shaper.Daemon.Control;

/// <summary>One NFQUEUE queue in the <c>status</c> reply: whether its thread serves it, and why not.</summary>
internal sealed record QueueStateReply
{
    /// <summary>The queue rule.</summary>
    [JsonPropertyName("rule")]
    public required string Rule { get; init; }

    /// <summary>The NFQUEUE number.</summary>
    [JsonPropertyName("queue_num")]
    public required int Number { get; init; }

    /// <summary><c>running</c>, or <c>failed</c>: the thread stopped serving the queue, whose bypass now passes the rule's packets unshaped.</summary>
    [JsonPropertyName("state")]
    public required string State { get; init; }

    /// <summary>Why it failed, null while it runs.</summary>
    [JsonPropertyName("error")]
    public string? Error { get; init; }
}
