using Shaper.Packets;
using Shaper.Plan;
using Shaper.Rules;

namespace Shaper.Engine;

/// <summary>
/// A validated configuration compiled for the packet path: the allow list as a prefix structure and each
/// rule's match, and the <c>[global]</c> cap's bucket, which every engine built from this set shares (as the
/// kernel's one limit is shared). Immutable but for that bucket: a reload compiles a new one and swaps it in whole.
/// </summary>
public sealed class CompiledRuleSet
{
    private CompiledRuleSet(ShaperConfig config, AddressSet allow, CompiledRule[] rules, GlobalCap? global)
    {
        Config = config;
        Allow = allow;
        Rules = rules;
        Global = global is null ? null : new GlobalBucket(global);
    }

    /// <summary>The configuration this was compiled from.</summary>
    public ShaperConfig Config { get; }

    internal AddressSet Allow { get; }

    internal CompiledRule[] Rules { get; }

    /// <summary>The <c>[global]</c> cap over these rules, null when none applies.</summary>
    public GlobalCap? Cap => Global?.Cap;

    /// <summary>The cap's bucket, shared by the engines of this set.</summary>
    internal GlobalBucket? Global { get; }

    /// <summary>
    /// Compiles a validated configuration whose rules all run in one engine (replay): the <c>[global]</c> cap, if
    /// any, covers them all (<see cref="GlobalCap.Of"/>).
    /// </summary>
    public static CompiledRuleSet Compile(ShaperConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return Compile(config, GlobalCap.Of(config, config.Rules));
    }

    /// <summary>
    /// Compiles a validated configuration under the cap <paramref name="global"/> the plan gives its rules; a rule
    /// without <c>match.iface</c> is held to <paramref name="pinnedInterface"/> when it is set (the capture is wider
    /// than the <c>[daemon] interface</c>). Interface names match nothing until <see cref="ResolveInterfaces"/>.
    /// </summary>
    public static CompiledRuleSet Compile(ShaperConfig config, GlobalCap? global, string? pinnedInterface = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        var rules = new CompiledRule[config.Rules.Count];
        for (var i = 0; i < rules.Length; i++)
        {
            rules[i] = new CompiledRule(config.Rules[i], pinnedInterface);
        }

        return new CompiledRuleSet(config, new AddressSet(config.Allow), rules, global);
    }

    /// <summary>True when some rule is held to an interface (its own <c>match.iface</c> or the pinned one).</summary>
    public bool MatchesInterfaces
    {
        get
        {
            foreach (var rule in Rules)
            {
                if (rule.Interface is not null)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>
    /// Resolves every rule's interface names against <paramref name="interfaces"/> (the host's now, each name with its
    /// index) and returns the names and prefixes that match no interface, each once; the engines built from this set
    /// see the new indexes from their next packet.
    /// </summary>
    public IReadOnlyList<string> ResolveInterfaces(IReadOnlyList<(string Name, int Index)> interfaces)
    {
        ArgumentNullException.ThrowIfNull(interfaces);
        var missing = new List<string>();
        foreach (var rule in Rules)
        {
            if (rule.Interface is { } iface)
            {
                iface.Resolve(interfaces);
                if (!iface.Resolved && !missing.Contains(iface.Pattern))
                {
                    missing.Add(iface.Pattern);
                }
            }
        }

        return missing;
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
