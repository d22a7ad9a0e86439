using System.Text.Json.Serialization;

namespace Shaper.Daemon.Control;

/// <summary>The <c>block.del</c> reply: the network unblocked.</summary>
internal sealed record BlockDelReply([property: JsonPropertyName("removed")] string Removed);
