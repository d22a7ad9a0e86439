using System.Text.Json.Serialization;

namespace Shaper.Daemon.Control;

/// <summary>The <c>counters</c> reply: one entry per rule, in-process rules first, then the kernel's.</summary>
internal sealed record CountersReply([property: JsonPropertyName("rules")] IReadOnlyList<RuleCountersReply> Rules);
