using System.Text.Json.Serialization;

namespace Shaper.Daemon.Control;

/// <summary>The <c>block.list</c> reply: one line per active block with the time it has left.</summary>
internal sealed record BlockListReply([property: JsonPropertyName("blocks")] IReadOnlyList<string> Blocks);
