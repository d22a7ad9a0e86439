using System.Net;
using Shaper.Engine;
using Shaper.Packets;
using Shaper.Rules;

namespace Shaper.Firewall;

/// <summary>
/// The drop and reject sets of observe rules (<c>action = "drop"</c> or <c>"reject"</c>) in the table
/// <c>inet shaper</c>: each such rule has its own pair, <c>drop_&lt;rule&gt;_v4</c>/<c>_v6</c> or
/// <c>reject_&lt;rule&gt;_v4</c>/<c>_v6</c> (with <c>_pN</c> for a prefix key, <c>_p0</c> for <c>per = "rule"</c>),
/// hash sets with <c>flags timeout</c> of the rule's keys, filled by the daemon with each key's retry-after. They
/// sit after the block sets and before every kernel rule, and stop only the packets of their own rule's match: a
/// source held by a rule limiting DNS still reaches SSH. They are not the block sets, so <c>shaperctl block list</c>
/// stays the operator's list. Keys per source, per source prefix, per destination and per rule have sets; a key of
/// source and port has none (the validator refuses drop and reject with <c>per = "src+dport"</c>).
/// </summary>
public static class NftHoldSets
{
    /// <summary>True when <paramref name="rule"/> holds its keys in a kernel set: a hard observe rule that drops or rejects.</summary>
    public static bool Holds(Rule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        return rule.Enforce == EnforceKind.Observe && rule.Mode == RuleMode.Hard && rule.Action is RuleAction.Drop or RuleAction.Reject
            && rule.Per.Kind != KeyKind.SourceAndDport;
    }

    /// <summary>The kind of <paramref name="rule"/>'s sets, the start of their names: <c>drop_&lt;rule&gt;</c> or <c>reject_&lt;rule&gt;</c>.</summary>
    public static string Kind(Rule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        return Kind(rule.Name, rule.Action);
    }

    /// <summary>The kind of the sets of the rule named <paramref name="rule"/> with <paramref name="action"/>.</summary>
    public static string Kind(string rule, RuleAction action) => (action == RuleAction.Reject ? "reject_" : "drop_") + rule;

    /// <summary>The set of <paramref name="rule"/> for one family: its key's prefix length (0 for <c>per = "rule"</c>).</summary>
    public static BlockSet SetOf(Rule rule, bool v4)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var prefix = rule.Per.Kind == KeyKind.Rule ? 0 : v4 ? rule.Per.V4Prefix : rule.Per.V6Prefix;
        return new BlockSet(v4, prefix, Kind(rule));
    }

    /// <summary>A set's definition, for <c>add set</c>: as many keys as the engine tracks per rule.</summary>
    public static string Definition(BlockSet set, int size) =>
        $"{{ type {(set.V4 ? "ipv4_addr" : "ipv6_addr")}; size {size}; flags timeout; }}";

    /// <summary>The chain rule: the rule's match, its key (masked to the set's prefix) looked up in the set, and the verdict.</summary>
    public static string ChainRule(Rule rule, BlockSet set, string match)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var addr = set.V4 ? "ip" : "ip6";
        var direction = rule.Per.Kind == KeyKind.Destination ? "daddr" : "saddr";
        var key = set.IsHosts ? $"{addr} {direction}" : $"{addr} {direction} & {Mask(set.V4, set.PrefixLength)}";
        var verdict = rule.Action == RuleAction.Reject ? "jump reject_any" : "drop";
        return $"{match} {key} @{set.Name} {verdict}";
    }

    /// <summary>
    /// The elements that hold <paramref name="key"/>: its network (address and prefix), in the set of its family;
    /// for <c>per = "rule"</c> the whole of both families.
    /// </summary>
    public static IEnumerable<IPNetwork> Networks(HeldKey key)
    {
        if (key.Kind == KeyKind.Rule)
        {
            return [new IPNetwork(IPAddress.Any, 0), new IPNetwork(IPAddress.IPv6Any, 0)];
        }

        return [new IPNetwork(key.ToAddress(), key.PrefixLength)];
    }

    private static string Mask(bool v4, int prefix)
    {
        var bytes = new byte[v4 ? 4 : 16];
        for (var i = 0; i < prefix; i++)
        {
            bytes[i / 8] |= (byte)(0x80 >> (i % 8));
        }

        return new IPAddress(bytes).ToString();
    }
}
