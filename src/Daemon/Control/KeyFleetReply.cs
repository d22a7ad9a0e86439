using System.Text.Json.Serialization;

namespace Shaper.Daemon.Control;

/// <summary>
/// A fleet rule's key in the <c>counters</c> reply, as the fleet store counts it across every host (the <c>fleet</c>
/// object beside the key's local counts): what the hosts admitted together, the room the fleet has left, this host's
/// share of it and its grant, and how old these figures are (the store's last answer for the key).
/// </summary>
internal sealed record KeyFleetReply
{
    /// <summary>Packets (bytes for a byte rate) every host admitted for the key, as the store counted them.</summary>
    [JsonPropertyName("passed")]
    public required long Passed { get; init; }

    /// <summary>The fleet's room for the key: tokens or window room left over all hosts (negative when over-admitted).</summary>
    [JsonPropertyName("remaining")]
    public required long Remaining { get; init; }

    /// <summary>This host's share of the key's room, in percent, from its part of the fleet's traffic.</summary>
    [JsonPropertyName("share_percent")]
    public required double SharePercent { get; init; }

    /// <summary>What this host may admit until its next exchange.</summary>
    [JsonPropertyName("allowance")]
    public required long Allowance { get; init; }

    /// <summary>Milliseconds since the store's answer these figures come from.</summary>
    [JsonPropertyName("age_ms")]
    public required double AgeMs { get; init; }
}
