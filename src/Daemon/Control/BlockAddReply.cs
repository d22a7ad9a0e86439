using System.Text.Json.Serialization;

namespace Shaper.Daemon.Control;

/// <summary>The <c>block.add</c> reply: the network blocked, as the kernel holds it, and for how long.</summary>
internal sealed record BlockAddReply(
    [property: JsonPropertyName("blocked")] string Blocked,
    [property: JsonPropertyName("for_s")] double ForSeconds);
