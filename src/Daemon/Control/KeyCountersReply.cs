using System.Text.Json.Serialization;

namespace Shaper.Daemon.Control;

/// <summary>One key of a rule in the <c>counters</c> reply: its counts and the <c>X-Ratelimit-*</c> view.</summary>
internal sealed record KeyCountersReply
{
    [JsonPropertyName("key")]
    public required string Key { get; init; }

    [JsonPropertyName("passed")]
    public required long Passed { get; init; }

    [JsonPropertyName("limited")]
    public required long Limited { get; init; }

    [JsonPropertyName("delayed")]
    public required long Delayed { get; init; }

    [JsonPropertyName("remaining")]
    public required long Remaining { get; init; }

    [JsonPropertyName("limit")]
    public required long Limit { get; init; }

    /// <summary>Milliseconds until the key may send again; -1 for never.</summary>
    [JsonPropertyName("retry_after_ms")]
    public required double RetryAfterMs { get; init; }

    /// <summary><c>open</c>, or the kernel set the key is in: <c>dropped</c>, <c>rejected</c> or <c>blocked</c>.</summary>
    [JsonPropertyName("state")]
    public required string State { get; init; }

    /// <summary>Milliseconds the key stays in that set; 0 when open.</summary>
    [JsonPropertyName("state_left_ms")]
    public required double StateLeftMs { get; init; }

    /// <summary>A fleet rule's key: the figures the fleet store counts across every host; absent for the other rules and for keys the store has not answered for.</summary>
    [JsonPropertyName("fleet")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public KeyFleetReply? Fleet { get; init; }
}
