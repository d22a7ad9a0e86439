namespace Shaper.Rules.Toml;

/// <summary>A table: its entries in file order.</summary>
internal sealed class TomlTable(SourceLocation location, TomlTableOrigin origin) : TomlNode(location)
{
    public override TomlValueKind Kind => TomlValueKind.Table;

    public TomlTableOrigin Origin { get; set; } = origin;

    public List<TomlEntry> Entries { get; } = [];

    public TomlEntry? Find(string key)
    {
        foreach (var entry in Entries)
        {
            if (entry.Key == key)
            {
                return entry;
            }
        }

        return null;
    }
}
