using System.Text.Json.Serialization;

namespace Shaper.Daemon.Control;

/// <summary>
/// One active block in the <c>block.list</c> reply: the network, the seconds it has left, and who decided it:
/// <c>source</c> is <c>manual</c>, <c>rule</c> (with <c>rule</c>), <c>fleet</c> (installed from the fleet, with
/// <c>origin</c>, the host that published it) or <c>unknown</c> (a block stored before sources were kept).
/// </summary>
internal sealed record BlockListEntry
{
    [JsonPropertyName("network")]
    public required string Network { get; init; }

    [JsonPropertyName("expires_in_s")]
    public required double ExpiresInS { get; init; }

    [JsonPropertyName("source")]
    public required string Source { get; init; }

    /// <summary>The rule that decided the block (source <c>rule</c>); absent otherwise.</summary>
    [JsonPropertyName("rule")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Rule { get; init; }

    /// <summary>The fleet host that published the block (source <c>fleet</c>); absent otherwise.</summary>
    [JsonPropertyName("origin")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Origin { get; init; }
}
