using System.Net;
using Shaper.Rules.Toml;

namespace Shaper.Rules;

/// <summary>
/// Reads one typed value from an entry and reports what is wrong with it. Every method reports into the
/// bag and returns null (or false) rather than stop, so one pass finds every error in the file.
/// <c>subject</c> names the value in messages, e.g. <c>burst of [[rule]] 'ssh-new'</c>.
/// </summary>
internal sealed class FieldReader(DiagnosticBag bag)
{
    private readonly DiagnosticBag _bag = bag;

    public DiagnosticBag Bag => _bag;

    public bool Expect(TomlEntry entry, TomlValueKind kind, string subject, string expected, string example)
    {
        if (entry.Value.Kind == kind)
        {
            return true;
        }

        _bag.Error(entry.Value.Location, $"{subject} must be {expected}, not {entry.Value.Describe()}", $"write {entry.Key} = {example}");
        return false;
    }

    public string? String(TomlEntry entry, string subject, string example) =>
        Expect(entry, TomlValueKind.String, subject, "a string", example) ? (string)((TomlScalar)entry.Value).Value : null;

    public bool? Boolean(TomlEntry entry, string subject) =>
        Expect(entry, TomlValueKind.Boolean, subject, "true or false", "true") ? (bool)((TomlScalar)entry.Value).Value : null;

    public long? Integer(TomlEntry entry, string subject, long min, long max, string example)
    {
        if (entry.Value is TomlScalar { Kind: TomlValueKind.String, Value: string text } && long.TryParse(text, out _))
        {
            _bag.Error(entry.Value.Location, $"{subject} must be an integer, not a string", $"write {entry.Key} = {text.Trim()} (no quotes)");
            return null;
        }

        if (!Expect(entry, TomlValueKind.Integer, subject, "an integer", example))
        {
            return null;
        }

        var value = (long)((TomlScalar)entry.Value).Value;
        if (value < min || value > max)
        {
            _bag.Error(entry.Value.Location, $"{subject} is {value}, out of range", $"write a whole number from {min} to {max}");
            return null;
        }

        return value;
    }

    public T? Choice<T>(TomlEntry entry, string subject, IReadOnlyList<(string Name, T Value)> choices)
        where T : struct
    {
        var names = choices.Select(c => c.Name).ToArray();
        var text = String(entry, subject, $"\"{names[0]}\"");
        if (text is null)
        {
            return null;
        }

        foreach (var (name, value) in choices)
        {
            if (name == text)
            {
                return value;
            }
        }

        _bag.Error(entry.Value.Location, $"{subject} cannot be \"{text}\"", NameSuggester.Hint(text, names, "write one of"));
        return null;
    }

    public RateSpec? Rate(TomlEntry entry, string subject)
    {
        if (entry.Value is TomlScalar { Kind: TomlValueKind.Integer, Value: long number })
        {
            _bag.Error(entry.Value.Location, $"{subject} must be a string with a period, not an integer", $"write {entry.Key} = \"{number}/s\" (or /minute, /hour, /day)");
            return null;
        }

        var text = String(entry, subject, "\"10/s\"");
        if (text is null)
        {
            return null;
        }

        if (!RateParser.TryParse(text, out var rate, out var error))
        {
            _bag.Error(entry.Value.Location, $"{subject}: {error.Message}", error.Hint);
            return null;
        }

        return rate;
    }

    public TimeSpan? Duration(TomlEntry entry, string subject, string example)
    {
        if (entry.Value is TomlScalar { Kind: TomlValueKind.Integer, Value: long number })
        {
            _bag.Error(entry.Value.Location, $"{subject} must be a string with a unit, not an integer", $"write {entry.Key} = \"{number}s\" (units: ms, s, m, h, d)");
            return null;
        }

        var text = String(entry, subject, example);
        if (text is null)
        {
            return null;
        }

        if (!DurationParser.TryParse(text, out var duration, out var error))
        {
            _bag.Error(entry.Value.Location, $"{subject}: {error.Message}", error.Hint);
            return null;
        }

        return duration;
    }

    /// <summary>A list of CIDRs (a single string is taken as a list of one); null when any item is bad.</summary>
    public List<IPNetwork>? Cidrs(TomlEntry entry, string subject)
    {
        var items = ListItems(entry, subject, "[\"192.0.2.0/24\", \"2001:db8::/32\"]");
        if (items is null)
        {
            return null;
        }

        var result = new List<IPNetwork>();
        var ok = true;
        foreach (var item in items)
        {
            if (item is not TomlScalar { Kind: TomlValueKind.String, Value: string text })
            {
                _bag.Error(item.Location, $"{subject} must list CIDRs as strings, not {item.Describe()}", "write each as a quoted string, e.g. \"192.0.2.0/24\"");
                ok = false;
                continue;
            }

            if (!CidrParser.TryParse(text, out var network, out var error))
            {
                _bag.Error(item.Location, $"{subject}: {error.Message}", error.Hint);
                ok = false;
                continue;
            }

            result.Add(network);
        }

        return ok ? result : null;
    }

    /// <summary>A list of ports and "a-b" ranges (a single one is taken as a list of one); null when any item is bad.</summary>
    public List<PortRange>? Ports(TomlEntry entry, string subject)
    {
        var items = ListItems(entry, subject, "[22, \"8000-8080\"]");
        if (items is null)
        {
            return null;
        }

        var result = new List<PortRange>();
        var ok = true;
        foreach (var item in items)
        {
            PortRange range;
            ValueError error;
            var parsed = item switch
            {
                TomlScalar { Kind: TomlValueKind.Integer, Value: long port } => PortRangeParser.TryParse(port, out range, out error),
                TomlScalar { Kind: TomlValueKind.String, Value: string text } => PortRangeParser.TryParse(text, out range, out error),
                _ => Fail(out range, out error, new ValueError($"must list ports as integers or \"first-last\" strings, not {item.Describe()}", "write e.g. [22, \"8000-8080\"]")),
            };
            if (!parsed)
            {
                _bag.Error(item.Location, $"{subject}: {error.Message}", error.Hint);
                ok = false;
                continue;
            }

            result.Add(range);
        }

        return ok ? result : null;
    }

    /// <summary>Reports an unknown key and returns the valid key it is probably a misspelling of, if any.</summary>
    public string? UnknownKey(TomlEntry entry, string where, IReadOnlyList<string> known, string? elsewhere = null)
    {
        _bag.Error(entry.KeyLocation, $"unknown key '{entry.Key}' in {where}", elsewhere ?? NameSuggester.Hint(entry.Key, known, "valid keys are"));
        return elsewhere is null ? NameSuggester.Nearest(entry.Key, known) : null;
    }

    private List<TomlNode>? ListItems(TomlEntry entry, string subject, string example)
    {
        switch (entry.Value)
        {
            case TomlArray { IsTableArray: false } array:
                return array.Items;
            case TomlScalar { Kind: TomlValueKind.String or TomlValueKind.Integer } single:
                return [single];
            default:
                _bag.Error(entry.Value.Location, $"{subject} must be a list, not {entry.Value.Describe()}", $"write {entry.Key} = {example}");
                return null;
        }
    }

    private static bool Fail(out PortRange range, out ValueError error, ValueError value)
    {
        range = default;
        error = value;
        return false;
    }
}
