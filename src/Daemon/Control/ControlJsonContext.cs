using System.Text.Json.Serialization;

namespace Shaper.Daemon.Control;

/// <summary>
/// The control replies' serialiser, generated at build time: every reply is a declared type, so a field
/// cannot appear, vanish or change its name without a change to that type.
/// </summary>
[JsonSourceGenerationOptions(GenerationMode = JsonSourceGenerationMode.Default)]
[JsonSerializable(typeof(StatusReply))]
[JsonSerializable(typeof(CountersReply))]
[JsonSerializable(typeof(MessageReply))]
[JsonSerializable(typeof(BlockAddReply))]
[JsonSerializable(typeof(BlockDelReply))]
[JsonSerializable(typeof(BlockListReply))]
[JsonSerializable(typeof(BlockListEntry))]
[JsonSerializable(typeof(KeyFleetReply))]
[JsonSerializable(typeof(RulesListReply))]
[JsonSerializable(typeof(FleetStatusReply))]
internal sealed partial class ControlJsonContext : JsonSerializerContext;
