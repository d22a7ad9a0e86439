namespace Shaper.Rules.Toml;

/// <summary>A string, integer, float, boolean or date-time. <see cref="Value"/> is a string, long, double, bool or the date-time's text.</summary>
internal sealed class TomlScalar(SourceLocation location, TomlValueKind kind, object value) : TomlNode(location)
{
    public override TomlValueKind Kind { get; } = kind;

    public object Value { get; } = value;
}
