using Shaper.Packets;
using Shaper.Rules;

namespace Shaper.Engine;

/// <summary>
/// A validated configuration compiled for the packet path: the allow list as a prefix structure and each
/// rule's match. Immutable: a reload compiles a new one and swaps it in whole.
/// </summary>
public sealed class CompiledRuleSet
{
    private CompiledRuleSet(ShaperConfig config, AddressSet allow, CompiledRule[] rules)
    {
        Config = config;
        Allow = allow;
        Rules = rules;
    }

    /// <summary>The configuration this was compiled from.</summary>
    public ShaperConfig Config { get; }

    internal AddressSet Allow { get; }

    internal CompiledRule[] Rules { get; }

    /// <summary>Compiles a validated configuration.</summary>
    public static CompiledRuleSet Compile(ShaperConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var rules = new CompiledRule[config.Rules.Count];
        for (var i = 0; i < rules.Length; i++)
        {
            rules[i] = new CompiledRule(config.Rules[i]);
        }

        return new CompiledRuleSet(config, new AddressSet(config.Allow), rules);
    }

    /// <summary>True when the packet's source is on the allow list: never limited, never blocked.</summary>
    public bool IsAllowed(in PacketMeta packet) => !Allow.IsEmpty && Allow.Contains(packet.Family, packet.Source);

    /// <summary>
    /// Writes the indexes of the rules <paramref name="packet"/> matches, in file order, into
    /// <paramref name="matches"/> and returns how many; none when the source is allowed.
    /// </summary>
    public int Match(in PacketMeta packet, Span<int> matches)
    {
        if (IsAllowed(packet))
        {
            return 0;
        }

        var n = 0;
        for (var i = 0; i < Rules.Length && n < matches.Length; i++)
        {
            if (Rules[i].Matcher.Matches(packet))
            {
                matches[n++] = i;
            }
        }

        return n;
    }
}
