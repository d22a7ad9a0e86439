using System.Text.Json.Serialization;

namespace Shaper.Daemon.Control;

/// <summary>
/// The <c>block.list</c> reply: one line per active block with the time it has left (<c>blocks</c>), and the same
/// blocks with who decided each (<c>entries</c>, added after <c>blocks</c>, which keeps its form).
/// </summary>
internal sealed record BlockListReply(
    [property: JsonPropertyName("blocks")] IReadOnlyList<string> Blocks,
    [property: JsonPropertyName("entries")] IReadOnlyList<BlockListEntry> Entries);
