using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Shaper.Daemon.Control;

/// <summary>The <c>rules.list</c> reply: every running rule in the file's own words.</summary>
internal sealed record RulesListReply([property: JsonPropertyName("rules")] IReadOnlyList<JsonObject> Rules);
