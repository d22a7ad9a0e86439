using System.Text.Json.Nodes;

namespace Shaper.Control;

/// <summary>
/// One control request: a single JSON line <c>{"v":1,"cmd":"status","args":{…}}</c>. Version 1 is the only
/// version; a daemon refuses versions it does not know with an error that names the versions it speaks.
/// </summary>
/// <param name="Version">Protocol version (<see cref="ControlProtocol.Version"/>).</param>
/// <param name="Command">The command, e.g. <c>status</c>, <c>counters</c>, <c>block.add</c>.</param>
/// <param name="Args">Arguments; an empty object when none.</param>
public sealed record ControlRequest(int Version, string Command, JsonObject Args);
