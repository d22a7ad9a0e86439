using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Shaper.Rules;

namespace Shaper.Firewall;

/// <summary>
/// Writes the nft scripts of the one table <c>inet shaper</c> (DESIGN.md, Kernel objects) from a validated
/// configuration. Pure text generation, so it is tested without root. Every address is formatted from a
/// parsed <see cref="IPNetwork"/>, never copied from user text (nft resolves a bad address through DNS).
/// The apply script is one transaction that keeps the meter and block sets: it flushes and refills the
/// chains, recreates only the stateful objects whose definition changed, so a reload never hands every
/// source a fresh burst.
/// </summary>
public static class NftScript
{
    /// <summary>The table's family and name.</summary>
    public const string Table = "inet shaper";

    private static readonly string[] FixedChains = ["input", "reject_any"];

    /// <summary>
    /// The transaction that makes the table match <paramref name="plan"/>: its kernel rules and the <c>[global]</c> cap. <paramref name="previous"/> holds
    /// the definitions of the stateful objects (meter sets, named limits) as the last apply left them; objects
    /// in <paramref name="unknown"/> exist but their definition is not known (an adopted table) and are
    /// recreated. <paramref name="blockPrefixes"/> are the prefix lengths that have a block set (the host sets
    /// are always there). Returns the script and the definitions it leaves, for the next apply.
    /// </summary>
    public static (string Script, Dictionary<string, string> Objects) Apply(
        Plan.EnforcementPlan plan,
        IReadOnlyDictionary<string, string> previous,
        IEnumerable<string> unknown,
        IEnumerable<BlockSet>? blockPrefixes = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var config = plan.Config;
        var objects = new Dictionary<string, string>(StringComparer.Ordinal);
        var rules = new List<string>();
        var logChains = new List<string>();

        foreach (var v4 in new[] { true, false })
        {
            var allowed = config.Allow.Where(n => IsV4(n) == v4).ToList();
            if (allowed.Count > 0)
            {
                rules.Add($"{Addr(v4)} saddr {{ {string.Join(", ", allowed.Select(Format))} }} accept");
            }
        }

        var blockSets = NftBlockSets.All(blockPrefixes);
        rules.AddRange(blockSets.Select(NftBlockSets.Rule));

        // Observe rules' drop and reject sets, after the blocks and before any kernel rule (as the engine models them).
        foreach (var rule in plan.ObservedRules.Where(NftHoldSets.Holds))
        {
            foreach (var v4 in Families(rule))
            {
                var set = NftHoldSets.SetOf(rule, v4);
                objects[$"set {set.Name}"] = NftHoldSets.Definition(set, config.Daemon.MaxKeys);
                rules.Add(NftHoldSets.ChainRule(rule, set, Match(rule, v4)));
            }
        }

        // The [global] cap: one named limit every rule's matched packets draw from, observe rules' first (their
        // packets have passed by the time the engine sees them, so only the kernel can hold them to the cap), and queue
        // rules' (this table runs before the filter table's NFQUEUE rule, so a packet over the cap never reaches the queue).
        if (plan.Global is { } global && KernelLimit(global.Rate, global.Burst) is { } globalLimit)
        {
            objects["limit l_global"] = $"{{ rate over {globalLimit} }}";
            objects["counter c_global_limited"] = "";
            foreach (var rule in plan.ObservedRules.Concat(plan.QueueRules.Select(q => q.Rule)))
            {
                foreach (var v4 in Families(rule))
                {
                    rules.Add(GlobalRule(rule, Match(rule, v4)));
                }
            }
        }

        var maxKeys = config.Daemon.MaxKeys;
        foreach (var rule in plan.KernelRules)
        {
            if (rule.Rate is not { } rate || KernelLimit(rate, rule.Burst ?? 5) is not { } limit)
            {
                continue;
            }

            objects[$"counter c_{rule.Name}_matched"] = "";
            objects[$"counter c_{rule.Name}_limited"] = "";
            var verdict = Verdict(rule, logChains);
            var timeout = MeterTimeout(rate.Rate, rule.Burst ?? 5);
            foreach (var v4 in Families(rule))
            {
                var match = Match(rule, v4);
                rules.Add($"{match} counter name \"c_{rule.Name}_matched\"");
                if (objects.ContainsKey("limit l_global"))
                {
                    rules.Add(GlobalRule(rule, match));
                }

                string over;
                if (rule.Per.Kind == KeyKind.Rule)
                {
                    objects[$"limit l_{rule.Name}"] = $"{{ rate over {limit} }}";
                    over = $"limit name \"l_{rule.Name}\"";
                }
                else
                {
                    var set = $"m_{rule.Name}_{(v4 ? "v4" : "v6")}";
                    // The limit is named in the set's comment: each element keeps the limit it was created with (the rule's
                    // limit only seeds new elements), so a changed limit must start a new set, as the engine starts the rule
                    // afresh; an unchanged one keeps the set and its buckets.
                    objects[$"set {set}"] = $"{{ type {KeyType(rule, v4)}; size {maxKeys}; flags dynamic,timeout; timeout {timeout}s; comment \"limit {limit}\"; }}";
                    over = $"update @{set} {{ {KeyExpression(rule, v4)} limit rate over {limit} }}";
                }

                var block = rule.Action == RuleAction.Block && rule.BlockFor is { } blockFor && rule.Mode == RuleMode.Hard
                    ? $" add @block_{(v4 ? "v4" : "v6")} {{ {Addr(v4)} saddr timeout {Seconds(blockFor)}s }}"
                    : "";
                rules.Add($"{match} {over}{block} counter name \"c_{rule.Name}_limited\"{verdict}");
            }
        }

        var script = new StringBuilder();
        script.Append("add table ").Append(Table).Append('\n');
        script.Append("add chain ").Append(Table).Append(" input { type filter hook input priority -10; policy accept; }\n");
        script.Append("add chain ").Append(Table).Append(" reject_any\n");
        foreach (var chain in logChains.Select(c => c.Split(' ')[0]))
        {
            script.Append("add chain ").Append(Table).Append(' ').Append(chain).Append('\n');
        }

        foreach (var chain in FixedChains.Concat(logChains.Select(c => c.Split(' ')[0])))
        {
            script.Append("flush chain ").Append(Table).Append(' ').Append(chain).Append('\n');
        }

        // With the chains empty nothing refers to the stateful objects: those whose definition changed,
        // those no rule needs now, and those of unknown definition go, in the same transaction.
        foreach (var name in previous.Keys.Concat(unknown).Distinct())
        {
            var keep = objects.TryGetValue(name, out var now) && previous.TryGetValue(name, out var before) && now == before;
            if (!keep)
            {
                script.Append("delete ").Append(Kind(name)).Append(' ').Append(Table).Append(' ').Append(Name(name)).Append('\n');
            }
        }

        foreach (var set in blockSets)
        {
            script.Append("add set ").Append(Table).Append(' ').Append(set.Name).Append(' ').Append(NftBlockSets.Definition(set)).Append('\n');
        }

        foreach (var (name, definition) in objects)
        {
            script.Append("add ").Append(Kind(name)).Append(' ').Append(Table).Append(' ').Append(Name(name));
            script.Append(definition.Length > 0 ? " " + definition : "").Append('\n');
        }

        foreach (var rule in rules)
        {
            script.Append("add rule ").Append(Table).Append(" input ").Append(rule).Append('\n');
        }

        script.Append("add rule ").Append(Table).Append(" reject_any meta l4proto tcp reject with tcp reset\n");
        script.Append("add rule ").Append(Table).Append(" reject_any reject with icmpx type port-unreachable\n");
        foreach (var chain in logChains)
        {
            var name = chain.Split(' ')[0];
            script.Append("add rule ").Append(Table).Append(' ').Append(name).Append(" limit rate 5/second log prefix \"shaper ")
                .Append(name["log_".Length..]).Append(": \" level warn\n");
        }

        return (script.ToString(), objects);
    }

    /// <summary>A whole-number kernel limit such as <c>10/minute burst 5 packets</c>; null when nft cannot write the rate.</summary>
    public static string? KernelLimit(RateSpec rate, long burst)
    {
        ArgumentNullException.ThrowIfNull(rate);
        var whole = RateParser.AsWholeKernelRate(rate.Rate);
        if (whole is null)
        {
            return null;
        }

        return rate.Unit == RateUnit.Packets
            ? $"{whole} burst {burst} packets"
            : $"{whole.Replace("/", " bytes/", StringComparison.Ordinal)} burst {burst} bytes";
    }

    /// <summary>The <c>[global]</c> cap's line for <paramref name="rule"/>: over the cap a hard rule's packet is dropped, a soft rule's only counted.</summary>
    private static string GlobalRule(Rule rule, string match) =>
        $"{match} limit name \"l_global\" counter name \"c_global_limited\"{(rule.Mode == RuleMode.Hard ? " drop" : "")}";

    private static string Verdict(Rule rule, List<string> logChains)
    {
        if (rule.Mode == RuleMode.Soft)
        {
            return "";
        }

        switch (rule.Action)
        {
            case RuleAction.Reject:
                return " jump reject_any";
            case RuleAction.Log:
                logChains.Add($"log_{rule.Name} ");
                return $" jump log_{rule.Name}";
            default:
                return " drop";
        }
    }

    /// <summary>The families a rule applies to: IPv4 (true), IPv6 (false), or both, from its protocol and CIDRs.</summary>
    internal static IEnumerable<bool> Families(Rule rule)
    {
        var m = rule.Match;
        if (m.Proto == Protocol.Icmp)
        {
            return [true];
        }

        if (m.Proto == Protocol.Icmpv6)
        {
            return [false];
        }

        var nets = m.Src.Concat(m.Dst).ToList();
        if (nets.Count == 0)
        {
            return [true, false];
        }

        return new[] { true, false }.Where(v4 => (m.Src.Count == 0 || m.Src.Any(n => IsV4(n) == v4)) && (m.Dst.Count == 0 || m.Dst.Any(n => IsV4(n) == v4)));
    }

    internal static string Match(Rule rule, bool v4)
    {
        var m = rule.Match;
        var parts = new List<string> { v4 ? "meta nfproto ipv4" : "meta nfproto ipv6" };
        if (m.Iface is { } iface)
        {
            parts.Add($"iifname \"{iface}\"");
        }

        parts.Add(m.Proto switch
        {
            Protocol.Tcp => "meta l4proto tcp",
            Protocol.Udp => "meta l4proto udp",
            Protocol.Icmp => "meta l4proto icmp",
            Protocol.Icmpv6 => "meta l4proto ipv6-icmp",
            _ => rule.Per.Kind == KeyKind.SourceAndDport || m.Dport.Count > 0 || m.Sport.Count > 0 ? "meta l4proto { tcp, udp }" : "",
        });
        if (m.Src.Count > 0)
        {
            parts.Add($"{Addr(v4)} saddr {{ {string.Join(", ", m.Src.Where(n => IsV4(n) == v4).Select(Format))} }}");
        }

        if (m.Dst.Count > 0)
        {
            parts.Add($"{Addr(v4)} daddr {{ {string.Join(", ", m.Dst.Where(n => IsV4(n) == v4).Select(Format))} }}");
        }

        if (m.Dport.Count > 0)
        {
            parts.Add($"th dport {{ {string.Join(", ", m.Dport)} }}");
        }

        if (m.Sport.Count > 0)
        {
            parts.Add($"th sport {{ {string.Join(", ", m.Sport)} }}");
        }

        if (m.Syn == true)
        {
            parts.Add("tcp flags & (syn | ack) == syn");
        }

        return string.Join(' ', parts.Where(p => p.Length > 0));
    }

    private static string KeyType(Rule rule, bool v4) =>
        (v4 ? "ipv4_addr" : "ipv6_addr") + (rule.Per.Kind == KeyKind.SourceAndDport ? " . inet_service" : "");

    private static string KeyExpression(Rule rule, bool v4)
    {
        var direction = rule.Per.Kind == KeyKind.Destination ? "daddr" : "saddr";
        var prefix = v4 ? rule.Per.V4Prefix : rule.Per.V6Prefix;
        var key = $"{Addr(v4)} {direction}";
        if (prefix < (v4 ? 32 : 128))
        {
            key += " and " + Mask(v4, prefix);
        }

        return rule.Per.Kind == KeyKind.SourceAndDport ? key + " . th dport" : key;
    }

    internal static string Mask(bool v4, int prefix)
    {
        var bytes = new byte[v4 ? 4 : 16];
        for (var i = 0; i < prefix; i++)
        {
            bytes[i / 8] |= (byte)(0x80 >> (i % 8));
        }

        return new IPAddress(bytes).ToString();
    }

    /// <summary>Long enough for a bucket to refill before its idle key expires, so expiry never grants early.</summary>
    internal static long MeterTimeout(Limiting.Rate rate, long burst)
    {
        var refillSeconds = (long)Math.Ceiling(burst / Math.Max(rate.PerSecond, 1e-9));
        return Math.Clamp(refillSeconds + 10, 60, 86_400);
    }

    internal static long Seconds(TimeSpan span) => Math.Max(1, (long)Math.Ceiling(span.TotalSeconds));

    private static string Addr(bool v4) => v4 ? "ip" : "ip6";

    internal static bool IsV4(IPNetwork network) =>
        network.BaseAddress.AddressFamily == AddressFamily.InterNetwork || network.BaseAddress.IsIPv4MappedToIPv6;

    internal static string Format(IPNetwork network)
    {
        if (network.BaseAddress.IsIPv4MappedToIPv6)
        {
            return $"{network.BaseAddress.MapToIPv4()}/{Math.Max(network.PrefixLength - 96, 0)}";
        }

        return $"{network.BaseAddress}/{network.PrefixLength}";
    }

    private static string Kind(string key) => key.Split(' ')[0];

    private static string Name(string key) => key.Split(' ')[1];
}
