using System.Text.Json;
using System.Text.Json.Nodes;

namespace Shaper.Daemon.Control;

/// <summary>
/// A request's <c>args</c> object, read strictly: an absent argument is null, one of the wrong JSON type is an
/// error naming it (a <c>"for": {…}</c> must not quietly become the default).
/// </summary>
internal sealed class ControlArgs(JsonObject args)
{
    /// <summary>The string argument <paramref name="name"/>, or null when absent or JSON null.</summary>
    public string? Text(string name) => args[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => throw new ControlArgumentException($"argument \"{name}\" must be a string"),
    };

    /// <summary>The integer argument <paramref name="name"/>, or null when absent or JSON null.</summary>
    public int? Int(string name) => args[name] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<int>(out var i) => i,
        _ => throw new ControlArgumentException($"argument \"{name}\" must be an integer"),
    };

    /// <summary>The boolean argument <paramref name="name"/>; false when absent or JSON null.</summary>
    public bool Flag(string name) => args[name] switch
    {
        null => false,
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
        _ => throw new ControlArgumentException($"argument \"{name}\" must be true or false"),
    };
}
