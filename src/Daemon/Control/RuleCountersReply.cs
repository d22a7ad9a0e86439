using System.Text.Json.Serialization;

namespace Shaper.Daemon.Control;

/// <summary>One rule's counters in the <c>counters</c> reply, with its most limited keys.</summary>
internal sealed record RuleCountersReply
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("enforce")]
    public required string Enforce { get; init; }

    [JsonPropertyName("passed")]
    public required long Passed { get; init; }

    [JsonPropertyName("limited")]
    public required long Limited { get; init; }

    [JsonPropertyName("delayed")]
    public required long Delayed { get; init; }

    [JsonPropertyName("keys_tracked")]
    public required int KeysTracked { get; init; }

    [JsonPropertyName("evictions")]
    public required long Evictions { get; init; }

    [JsonPropertyName("keys")]
    public required IReadOnlyList<KeyCountersReply> Keys { get; init; }

    /// <summary>Over-limit lines a logging or soft rule wrote (at most one per key per window); 0 for the others.</summary>
    [JsonPropertyName("logged")]
    public required long Logged { get; init; }

    /// <summary>A queue rule's queue figures; absent for the other rules.</summary>
    [JsonPropertyName("queue")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public QueueCountersReply? Queue { get; init; }
}
