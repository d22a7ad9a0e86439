using Shaper.Rules;

namespace Shaper.Capture;

/// <summary>
/// What the capture threads share packets by, so that every key of every observe rule stays on one thread (each
/// thread keeps its own key tables): the source address under the shortest source prefix any rule keys on, the
/// destination when every rule keys on it, or nothing (one thread takes every packet) when rules key on different
/// ends or on the whole rule.
/// </summary>
/// <param name="Field">Which address the hash reads.</param>
/// <param name="V4Prefix">Leading IPv4 bits hashed.</param>
/// <param name="V6Prefix">Leading IPv6 bits hashed.</param>
public readonly record struct FanoutKey(FanoutField Field, int V4Prefix, int V6Prefix)
{
    /// <summary>Every packet to the first thread.</summary>
    public static FanoutKey Single => new(FanoutField.None, 0, 0);

    /// <summary>The key that keeps each of <paramref name="rules"/>' observe keys on one thread.</summary>
    public static FanoutKey For(IEnumerable<Rule> rules)
    {
        ArgumentNullException.ThrowIfNull(rules);
        var field = FanoutField.None;
        int v4 = 32, v6 = 128;
        foreach (var rule in rules)
        {
            if (rule.Enforce != EnforceKind.Observe)
            {
                continue;
            }

            var (ruleField, ruleV4, ruleV6) = rule.Per.Kind switch
            {
                KeyKind.Source => (FanoutField.Source, rule.Per.V4Prefix, rule.Per.V6Prefix),
                KeyKind.SourceAndDport => (FanoutField.Source, 32, 128),
                KeyKind.Destination => (FanoutField.Destination, 32, 128),
                _ => (FanoutField.None, 0, 0),
            };
            if (ruleField == FanoutField.None || (field != FanoutField.None && field != ruleField))
            {
                return Single;
            }

            field = ruleField;
            v4 = Math.Min(v4, ruleV4);
            v6 = Math.Min(v6, ruleV6);
        }

        return field == FanoutField.None ? Single : new FanoutKey(field, v4, v6);
    }

    /// <inheritdoc />
    public override string ToString() => Field switch
    {
        FanoutField.Source => $"src/{V4Prefix} (IPv6 /{V6Prefix})",
        FanoutField.Destination => $"dst/{V4Prefix} (IPv6 /{V6Prefix})",
        _ => "one thread",
    };
}
