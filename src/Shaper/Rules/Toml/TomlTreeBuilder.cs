using Tomlyn.Syntax;

namespace Shaper.Rules.Toml;

/// <summary>
/// Turns Tomlyn's full-fidelity syntax tree into a small tree of tables, arrays and scalars that
/// keeps a 1-based location for every key and value. Tomlyn has already checked the document's
/// semantics (no key defined twice, no table reopened); wherever the tree does not fit what a
/// valid document would give, the builder skips that part rather than throw, because Tomlyn
/// has reported it.
/// </summary>
internal sealed class TomlTreeBuilder(string file)
{
    private readonly string _file = file;

    public TomlTable Build(DocumentSyntax document)
    {
        var root = new TomlTable(new SourceLocation(_file, 1, 1), TomlTableOrigin.Root);
        foreach (var keyValue in document.KeyValues)
        {
            AddKeyValue(root, keyValue);
        }

        foreach (var header in document.Tables)
        {
            var target = OpenHeader(root, header);
            if (target is null)
            {
                continue;
            }

            foreach (var keyValue in header.Items)
            {
                AddKeyValue(target, keyValue);
            }
        }

        return root;
    }

    public SourceLocation At(SourceSpan span) =>
        new(_file, Math.Max(0, span.Start.Line) + 1, Math.Max(0, span.Start.Column) + 1);

    private TomlTable? OpenHeader(TomlTable root, TableSyntaxBase header)
    {
        var parts = KeyParts(header.Name);
        if (parts.Count == 0)
        {
            return null;
        }

        var location = At(header.Span);
        var current = Descend(root, parts, parts.Count - 1, location);
        if (current is null)
        {
            return null;
        }

        var (name, _) = parts[^1];
        var existing = current.Find(name);
        if (header is TableArraySyntax)
        {
            TomlArray array;
            if (existing is null)
            {
                array = new TomlArray(location, isTableArray: true);
                current.Entries.Add(new TomlEntry(name, location, array));
            }
            else if (existing.Value is TomlArray { IsTableArray: true } known)
            {
                array = known;
            }
            else
            {
                return null;
            }

            var table = new TomlTable(location, TomlTableOrigin.ArrayHeader);
            array.Items.Add(table);
            return table;
        }

        if (existing is null)
        {
            var table = new TomlTable(location, TomlTableOrigin.Header);
            current.Entries.Add(new TomlEntry(name, location, table));
            return table;
        }

        if (existing.Value is TomlTable { Origin: TomlTableOrigin.Implicit } implicitTable)
        {
            implicitTable.Origin = TomlTableOrigin.Header;
            return implicitTable;
        }

        return null;
    }

    /// <summary>Walks the first <paramref name="count"/> parts of a dotted name, creating implicit tables.</summary>
    private static TomlTable? Descend(TomlTable table, List<(string Name, SourceLocation Location)> parts, int count, SourceLocation location)
    {
        var current = table;
        for (var i = 0; i < count; i++)
        {
            var (name, partLocation) = parts[i];
            var existing = current.Find(name);
            if (existing is null)
            {
                var created = new TomlTable(location, TomlTableOrigin.Implicit);
                current.Entries.Add(new TomlEntry(name, partLocation, created));
                current = created;
                continue;
            }

            switch (existing.Value)
            {
                case TomlTable next:
                    current = next;
                    break;
                case TomlArray { IsTableArray: true, Items.Count: > 0 } array when array.Items[^1] is TomlTable last:
                    current = last;
                    break;
                default:
                    return null;
            }
        }

        return current;
    }

    private void AddKeyValue(TomlTable table, KeyValueSyntax? keyValue)
    {
        if (keyValue is null)
        {
            return;
        }

        var parts = KeyParts(keyValue.Key);
        var value = Convert(keyValue.Value);
        if (parts.Count == 0 || value is null)
        {
            return;
        }

        var target = Descend(table, parts, parts.Count - 1, parts[0].Location);
        var (name, location) = parts[^1];
        if (target is null || target.Find(name) is not null)
        {
            return;
        }

        target.Entries.Add(new TomlEntry(name, location, value));
    }

    private TomlNode? Convert(ValueSyntax? value)
    {
        if (value is null)
        {
            return null;
        }

        var location = At(value.Span);
        switch (value)
        {
            case StringValueSyntax text when text.Value is not null:
                return new TomlScalar(location, TomlValueKind.String, text.Value);
            case IntegerValueSyntax integer:
                return new TomlScalar(location, TomlValueKind.Integer, integer.Value);
            case FloatValueSyntax number:
                return new TomlScalar(location, TomlValueKind.Float, number.Value);
            case BooleanValueSyntax boolean:
                return new TomlScalar(location, TomlValueKind.Boolean, boolean.Value);
            case DateTimeValueSyntax dateTime:
                return new TomlScalar(location, TomlValueKind.DateTime, dateTime.Token?.Text ?? "");
            case ArraySyntax array:
                var result = new TomlArray(location, isTableArray: false);
                foreach (var item in array.Items)
                {
                    if (Convert(item?.Value) is { } converted)
                    {
                        result.Items.Add(converted);
                    }
                }

                return result;
            case InlineTableSyntax inline:
                var table = new TomlTable(location, TomlTableOrigin.Inline);
                foreach (var item in inline.Items)
                {
                    AddKeyValue(table, item?.KeyValue);
                }

                return table;
            default:
                return null;
        }
    }

    private List<(string Name, SourceLocation Location)> KeyParts(KeySyntax? key)
    {
        var parts = new List<(string, SourceLocation)>();
        if (key is null || KeyText(key.Key) is not { } first)
        {
            return parts;
        }

        parts.Add((first, At(key.Key!.Span)));
        foreach (var dotted in key.DotKeys)
        {
            if (dotted is null || KeyText(dotted.Key) is not { } next)
            {
                return [];
            }

            parts.Add((next, At(dotted.Key!.Span)));
        }

        return parts;
    }

    private static string? KeyText(BareKeyOrStringValueSyntax? key) => key switch
    {
        BareKeySyntax bare => bare.Key?.Text,
        StringValueSyntax quoted => quoted.Value,
        _ => null,
    };
}
