namespace Shaper.Rules.Toml;

/// <summary>An array value, or the tables of an array of tables (<c>[[rule]]</c>).</summary>
internal sealed class TomlArray(SourceLocation location, bool isTableArray) : TomlNode(location)
{
    public override TomlValueKind Kind => TomlValueKind.Array;

    /// <summary>True for <c>[[name]]</c> headers, false for <c>name = [ … ]</c>.</summary>
    public bool IsTableArray { get; } = isTableArray;

    public List<TomlNode> Items { get; } = [];
}
