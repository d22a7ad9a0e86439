using System.Text.Json.Serialization;

namespace Shaper.Daemon.Control;

/// <summary>
/// The <c>block.del</c> reply: the network unblocked, and whether the block was the fleet's (<c>fleet</c>: then its
/// deletion goes to the fleet store with the next sync, and every host removes it).
/// </summary>
internal sealed record BlockDelReply(
    [property: JsonPropertyName("removed")] string Removed,
    [property: JsonPropertyName("fleet")] bool Fleet);
