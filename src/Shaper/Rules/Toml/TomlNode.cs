namespace Shaper.Rules.Toml;

/// <summary>A TOML value with the place it starts in the file.</summary>
internal abstract class TomlNode(SourceLocation location)
{
    public SourceLocation Location { get; } = location;

    public abstract TomlValueKind Kind { get; }

    /// <summary>The kind with an article, for messages: "a string", "an integer", ….</summary>
    public string Describe() => Kind switch
    {
        TomlValueKind.String => "a string",
        TomlValueKind.Integer => "an integer",
        TomlValueKind.Float => "a float",
        TomlValueKind.Boolean => "a boolean",
        TomlValueKind.DateTime => "a date-time",
        TomlValueKind.Array => "an array",
        _ => "a table",
    };
}
