using System.Text.Json.Serialization;

namespace Shaper.Daemon.Control;

/// <summary>The reply of <c>reload</c> and <c>rules.apply</c>: what was done, in one line.</summary>
internal sealed record MessageReply([property: JsonPropertyName("message")] string Message);
