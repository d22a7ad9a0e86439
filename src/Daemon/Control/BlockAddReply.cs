using System.Text.Json.Serialization;

namespace Shaper.Daemon.Control;

/// <summary>
/// The <c>block.add</c> reply: the network blocked, for how long, and the <c>[[allow]]</c> networks inside it
/// that stay exempt (empty when none).
/// </summary>
internal sealed record BlockAddReply(
    [property: JsonPropertyName("blocked")] string Blocked,
    [property: JsonPropertyName("for_s")] double ForSeconds,
    [property: JsonPropertyName("exempt")] IReadOnlyList<string> Exempt);
