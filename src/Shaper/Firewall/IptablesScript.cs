using System.Globalization;
using System.Net;
using System.Text;
using Shaper.Rules;

namespace Shaper.Firewall;

/// <summary>
/// Writes the <c>iptables-restore --noflush</c> scripts of the iptables backend from a validated configuration,
/// one per family (iptables and ip6tables are separate transactions). Pure text generation, tested without
/// root. The shaper owns the chains whose names start with <see cref="ChainPrefix"/> in table <c>filter</c>
/// and the one rule <c>-A INPUT -j SHAPER-INPUT</c>; nothing else is written.
/// <list type="bullet">
/// <item>Kernel rules become <c>hashlimit</c> matches keyed like nft's meters (<c>srcip</c>, <c>dstip</c>,
/// <c>srcip,dstport</c>, a source mask for <c>src/N</c>, no key for <c>per = "rule"</c>).</item>
/// <item>A hashlimit table is named after a hash of its whole definition: an unchanged rule keeps its table,
/// and so its buckets, across a reload (the new rule finds the table by name before the old one is dropped);
/// a changed one starts with fresh buckets, like nft's recreated meter sets.</item>
/// <item>Blocks are a chain of per-address DROP rules (<see cref="BlockChain"/>): ipset is not installed on the
/// hosts this backend was built for, and a chain needs nothing but iptables. The backend expires them itself.
/// A rule with <c>action = "block"</c> blocks from the packet path with an <c>xt_recent</c> list per rule,
/// checked with <c>--rcheck --seconds block_for</c>.</item>
/// </list>
/// </summary>
public static class IptablesScript
{
    /// <summary>Every chain the shaper owns starts with this.</summary>
    public const string ChainPrefix = "SHAPER-";

    /// <summary>The chain INPUT jumps to.</summary>
    public const string InputChain = "SHAPER-INPUT";

    /// <summary>The chain of per-address DROP rules.</summary>
    public const string BlockChain = "SHAPER-BLOCK";

    /// <summary>The chain that rejects (TCP reset, else ICMP port unreachable).</summary>
    public const string RejectChain = "SHAPER-REJECT";

    /// <summary>The one rule of the shaper's in INPUT, as <c>iptables-save</c> prints it.</summary>
    public const string JumpRule = "-A INPUT -j " + InputChain;

    /// <summary>hashlimit's fastest packet rate (its scale is one microsecond).</summary>
    public const long MaxPacketsPerSecond = 1_000_000;

    private const int MaxPortsPerRule = 15; // multiport's limit; a range counts twice

    /// <summary>
    /// The transaction that makes one family's chains match <paramref name="plan"/>'s kernel rules, with
    /// <paramref name="blocks"/> in the block chain. <paramref name="existing"/> are the shaper's chains now in
    /// the kernel (those no longer needed go); <paramref name="addJump"/> adds the jump from INPUT.
    /// </summary>
    public static string Apply(Plan.EnforcementPlan plan, bool v4, IEnumerable<IPNetwork> blocks, IEnumerable<string> existing, bool addJump)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var config = plan.Config;
        var rules = new List<string>();
        var chains = new List<string> { InputChain, BlockChain, RejectChain };
        var tail = new List<string>();

        foreach (var allowed in config.Allow.Where(n => NftScript.IsV4(n) == v4))
        {
            rules.Add($"-s {NftScript.Format(allowed)} -j RETURN");
        }

        rules.Add($"-j {BlockChain}");
        var kernelRules = plan.KernelRules.Where(r => r.Rate is not null && NftScript.Families(r).Contains(v4)).ToList();
        foreach (var rule in kernelRules.Where(IsBlocking))
        {
            rules.Add($"-m recent --name {RecentName(rule)} --rcheck --seconds {NftScript.Seconds(rule.BlockFor!.Value)} -j DROP");
        }

        // The [global] cap (one hashlimit per family): observe and queue rules' packets draw from it first, as only the
        // kernel can hold them to it (this chain comes before the queue chain); then each kernel rule's, before its own limit.
        var global = plan.Global is { } g ? Hashlimit(g.Rate, g.Burst, null, v4, config.Daemon.MaxKeys, "global") : null;
        if (global is not null)
        {
            foreach (var rule in plan.ObservedRules.Concat(plan.QueueRules.Select(q => q.Rule)).Where(r => NftScript.Families(r).Contains(v4)))
            {
                foreach (var match in Matches(rule, v4))
                {
                    rules.Add(GlobalRule(rule, match, global));
                }
            }
        }

        foreach (var rule in kernelRules)
        {
            var limit = Hashlimit(rule.Rate!, rule.Burst ?? 5, rule, v4, config.Daemon.MaxKeys, rule.Name);
            var verdict = Verdict(rule, v4, chains, tail);
            var block = IsBlocking(rule) ? $" -m recent --name {RecentName(rule)} --set" : "";
            foreach (var match in Matches(rule, v4))
            {
                rules.Add($"{match}-m comment --comment \"shaper:{rule.Name}:matched\"");
                if (global is not null)
                {
                    rules.Add(GlobalRule(rule, match, global));
                }

                rules.Add($"{match}{limit} -m comment --comment \"shaper:{rule.Name}:limited\"{block}{verdict}");
            }
        }

        var script = new StringBuilder("*filter\n");
        foreach (var chain in chains)
        {
            // In --noflush mode declaring a chain creates it, or flushes it when it exists.
            script.Append(':').Append(chain).Append(" - [0:0]\n");
        }

        var stale = existing.Where(c => !chains.Contains(c, StringComparer.Ordinal)).ToList();
        foreach (var chain in stale)
        {
            script.Append("-F ").Append(chain).Append('\n');
        }

        foreach (var chain in stale)
        {
            script.Append("-X ").Append(chain).Append('\n');
        }

        if (addJump)
        {
            script.Append("-I INPUT 1 -j ").Append(InputChain).Append('\n');
        }

        foreach (var rule in rules)
        {
            script.Append("-A ").Append(InputChain).Append(' ').Append(rule).Append('\n');
        }

        foreach (var network in blocks.Where(n => NftScript.IsV4(n) == v4))
        {
            script.Append(BlockRule("-A", network)).Append('\n');
        }

        script.Append("-A ").Append(RejectChain).Append(" -p tcp -j REJECT --reject-with tcp-reset\n");
        script.Append("-A ").Append(RejectChain).Append(" -j REJECT --reject-with ").Append(v4 ? "icmp-port-unreachable" : "icmp6-port-unreachable").Append('\n');
        foreach (var line in tail)
        {
            script.Append(line).Append('\n');
        }

        return script.Append("COMMIT\n").ToString();
    }

    /// <summary>One family's transaction appending (<c>-A</c>) or deleting (<c>-D</c>) block rules; empty when there are none.</summary>
    public static string Blocks(string op, IEnumerable<IPNetwork> networks, bool v4)
    {
        var lines = networks.Where(n => NftScript.IsV4(n) == v4).Select(n => BlockRule(op, n)).ToList();
        return lines.Count == 0 ? "" : $"*filter\n{string.Join('\n', lines)}\nCOMMIT\n";
    }

    /// <summary>The transaction that takes out the shaper's chains and its jump, as <paramref name="save"/> (iptables-save) shows them; empty when none is there.</summary>
    public static string Remove(string save)
    {
        ArgumentNullException.ThrowIfNull(save);
        var (chains, jumps) = Owned(save);
        if (chains.Count == 0 && jumps == 0)
        {
            return "";
        }

        var script = new StringBuilder("*filter\n");
        for (var i = 0; i < jumps; i++)
        {
            script.Append("-D INPUT -j ").Append(InputChain).Append('\n');
        }

        foreach (var chain in chains)
        {
            script.Append("-F ").Append(chain).Append('\n');
        }

        foreach (var chain in chains)
        {
            script.Append("-X ").Append(chain).Append('\n');
        }

        return script.Append("COMMIT\n").ToString();
    }

    /// <summary>The shaper's chains in an <c>iptables-save</c> listing, and how many jumps to it INPUT holds.</summary>
    public static (List<string> Chains, int Jumps) Owned(string save)
    {
        ArgumentNullException.ThrowIfNull(save);
        var chains = new List<string>();
        var jumps = 0;
        foreach (var raw in save.Split('\n'))
        {
            var line = raw.Trim();
            // The queue rules' chain is the queue's own (IptablesQueueScript), kept when the backend's chains change.
            if (line.StartsWith(':' + ChainPrefix, StringComparison.Ordinal) && !line.StartsWith($":{IptablesQueueScript.Chain} ", StringComparison.Ordinal))
            {
                chains.Add(line[1..line.IndexOf(' ', StringComparison.Ordinal)]);
            }
            else if (line == JumpRule)
            {
                jumps++;
            }
        }

        return (chains, jumps);
    }

    /// <summary>The blocks in an <c>iptables-save</c> listing of the block chain.</summary>
    public static IEnumerable<IPNetwork> BlocksIn(string save)
    {
        ArgumentNullException.ThrowIfNull(save);
        var prefix = $"-A {BlockChain} -s ";
        foreach (var raw in save.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith(prefix, StringComparison.Ordinal) && line.EndsWith(" -j DROP", StringComparison.Ordinal)
                && IPNetwork.TryParse(line[prefix.Length..^" -j DROP".Length], out var network))
            {
                yield return network;
            }
        }
    }

    /// <summary>
    /// hashlimit's spelling of a rate: packets as a whole number per sec, min, hour or day (at most
    /// <see cref="MaxPacketsPerSecond"/>/sec); bytes as whole bytes per second (<c>Nb/s</c>), the only byte
    /// period hashlimit has. Null with <paramref name="error"/> when the rate cannot be written.
    /// </summary>
    public static string? Rate(RateSpec rate, out string? error)
    {
        ArgumentNullException.ThrowIfNull(rate);
        error = null;
        if (rate.Unit == RateUnit.Bytes)
        {
            var scaled = (Int128)rate.Rate.Amount * 1_000_000_000;
            if (scaled % rate.Rate.PeriodNs != 0 || scaled / rate.Rate.PeriodNs > uint.MaxValue)
            {
                error = $"rate '{rate.Text}' is not a whole number of bytes per second up to {uint.MaxValue}, which iptables hashlimit needs";
                return null;
            }

            return $"{scaled / rate.Rate.PeriodNs}b/s";
        }

        var whole = RateParser.AsWholeKernelRate(rate.Rate);
        if (whole is null)
        {
            error = $"rate '{rate.Text}' is not a whole number per second, minute, hour or day";
            return null;
        }

        var parts = whole.Split('/');
        var amount = long.Parse(parts[0], CultureInfo.InvariantCulture);
        if (parts[1] == "second" && amount > MaxPacketsPerSecond)
        {
            error = $"rate '{rate.Text}' is above {MaxPacketsPerSecond}/s, the fastest iptables hashlimit counts";
            return null;
        }

        return parts[1] switch
        {
            "second" => $"{amount}/sec",
            "minute" => $"{amount}/min",
            _ => whole,
        };
    }

    /// <summary>
    /// Why <paramref name="plan"/> cannot be written for iptables, one reason per rule; empty when it can. The
    /// validator refuses these already when it checks for iptables; this guards a plan compiled for another backend.
    /// </summary>
    public static List<string> Problems(Plan.EnforcementPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var problems = new List<string>();
        if (plan.Global is { } global && Rate(global.Rate, out var globalError) is null)
        {
            problems.Add("[global]: " + globalError);
        }

        foreach (var rule in plan.KernelRules.Where(r => r.Rate is not null))
        {
            if (Rate(rule.Rate!, out var error) is null)
            {
                problems.Add($"rule {rule.Name}: {error}");
            }
        }

        // An observe rule's drop or reject holds each key for its own retry-after, in milliseconds, in a kernel set
        // with per-element timeouts; iptables without ipset has no such thing.
        foreach (var rule in plan.Config.Rules.Where(NftHoldSets.Holds))
        {
            problems.Add($"rule {rule.Name}: action = \"{(rule.Action == RuleAction.Reject ? "reject" : "drop")}\" of an observe rule needs nftables' drop and reject sets; use backend = \"nftables\", or action = \"block\" or \"log\"");
        }

        return problems;
    }

    /// <summary>The <c>[global]</c> cap's line for <paramref name="rule"/>: over the cap a hard rule's packet is dropped, a soft rule's only counted.</summary>
    private static string GlobalRule(Rule rule, string match, string global) =>
        $"{match}{global} -m comment --comment \"shaper:global:limited\"{(rule.Mode == RuleMode.Hard ? " -j DROP" : "")}";

    /// <summary>The hashlimit table name of a definition: at most 15 characters, as the kernel allows.</summary>
    public static string TableName(string definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var hash = 14695981039346656037UL; // FNV-1a: stable across runs, unlike string.GetHashCode
        foreach (var b in Encoding.UTF8.GetBytes(definition))
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return "shp" + (hash & 0xFFFFFFFFFFFFUL).ToString("x12", CultureInfo.InvariantCulture);
    }

    private static string Hashlimit(RateSpec rate, long burst, Rule? rule, bool v4, int maxKeys, string owner)
    {
        var text = Rate(rate, out var error) ?? throw new ArgumentException(error, nameof(rate));
        var spec = new StringBuilder($"-m hashlimit --hashlimit-above {text}");
        if (rate.Unit == RateUnit.Packets)
        {
            spec.Append(CultureInfo.InvariantCulture, $" --hashlimit-burst {burst}");
        }
        else if (burst >= (long)(rate.Rate.PerSecond + 0.5))
        {
            // hashlimit refuses a byte burst below one second of rate; without one its bucket is that second.
            spec.Append(CultureInfo.InvariantCulture, $" --hashlimit-burst {burst}b");
        }

        var per = rule?.Per ?? KeyScope.WholeRule;
        var prefix = v4 ? per.V4Prefix : per.V6Prefix;
        var full = v4 ? 32 : 128;
        switch (per.Kind)
        {
            case KeyKind.Source:
                spec.Append(" --hashlimit-mode srcip");
                spec.Append(prefix < full ? $" --hashlimit-srcmask {prefix}" : "");
                break;
            case KeyKind.Destination:
                spec.Append(" --hashlimit-mode dstip");
                spec.Append(prefix < full ? $" --hashlimit-dstmask {prefix}" : "");
                break;
            case KeyKind.SourceAndDport:
                spec.Append(" --hashlimit-mode srcip,dstport");
                break;
            default:
                break; // no mode: every packet shares one bucket
        }

        var expire = NftScript.MeterTimeout(rate.Rate, burst) * 1000;
        var size = Math.Clamp(maxKeys / 8, 1024, 65_536);
        spec.Append(CultureInfo.InvariantCulture, $" --hashlimit-htable-size {size} --hashlimit-htable-max {maxKeys} --hashlimit-htable-expire {expire}");
        var name = TableName($"{owner}|{(v4 ? 4 : 6)}|{spec}");
        return spec.Append(" --hashlimit-name ").Append(name).ToString();
    }

    private static string Verdict(Rule rule, bool v4, List<string> chains, List<string> tail)
    {
        if (rule.Mode == RuleMode.Soft)
        {
            return "";
        }

        switch (rule.Action)
        {
            case RuleAction.Reject:
                return $" -j {RejectChain}";
            case RuleAction.Log:
                // Chain names are at most 28 characters and rule names up to 24: the chain is named by a hash.
                var chain = "SHAPER-LOG-" + TableName(rule.Name)[3..11];
                chains.Add(chain);
                var prefix = $"shaper {rule.Name}: ";
                tail.Add($"-A {chain} -m limit --limit 5/sec -j LOG --log-prefix \"{prefix[..Math.Min(prefix.Length, 29)]}\" --log-level 4");
                return $" -j {chain}";
            default:
                return " -j DROP";
        }
    }

    private static bool IsBlocking(Rule rule) => rule.Action == RuleAction.Block && rule.BlockFor is not null && rule.Mode == RuleMode.Hard;

    private static string RecentName(Rule rule) => "shaper-" + rule.Name;

    /// <summary>One match per combination iptables cannot say in one rule: protocol, source and destination CIDRs, port groups.</summary>
    internal static List<string> Matches(Rule rule, bool v4)
    {
        var m = rule.Match;
        var protos = m.Proto switch
        {
            Protocol.Tcp => ["tcp"],
            Protocol.Udp => ["udp"],
            Protocol.Icmp => ["icmp"],
            Protocol.Icmpv6 => ["ipv6-icmp"],
            _ => rule.Per.Kind == KeyKind.SourceAndDport || m.Dport.Count > 0 || m.Sport.Count > 0 ? ["tcp", "udp"] : new[] { "" },
        };
        var sources = m.Src.Count > 0 ? m.Src.Where(n => NftScript.IsV4(n) == v4).Select(n => $"-s {NftScript.Format(n)} ").ToList() : [""];
        var destinations = m.Dst.Count > 0 ? m.Dst.Where(n => NftScript.IsV4(n) == v4).Select(n => $"-d {NftScript.Format(n)} ").ToList() : [""];
        var dports = PortGroups(m.Dport, "--dports");
        var sports = PortGroups(m.Sport, "--sports");
        var iface = m.Iface is { } name ? $"-i {(name.EndsWith('*') ? name[..^1] + "+" : name)} " : ""; // nft's eth* is iptables' eth+

        var matches = new List<string>();
        foreach (var proto in protos)
        {
            var p = proto.Length > 0 ? $"-p {proto} " : "";
            var syn = m.Syn == true && proto == "tcp" ? "--tcp-flags SYN,ACK SYN " : "";
            foreach (var src in sources)
            {
                foreach (var dst in destinations)
                {
                    foreach (var dport in dports)
                    {
                        foreach (var sport in sports)
                        {
                            var ports = dport.Length + sport.Length > 0 ? $"-m multiport {dport}{sport}" : "";
                            matches.Add($"{iface}{src}{dst}{p}{syn}{ports}");
                        }
                    }
                }
            }
        }

        return matches;
    }

    private static List<string> PortGroups(IReadOnlyList<PortRange> ports, string option)
    {
        if (ports.Count == 0)
        {
            return [""];
        }

        var groups = new List<string>();
        var current = new List<string>();
        var used = 0;
        foreach (var range in ports)
        {
            var cost = range.First == range.Last ? 1 : 2;
            if (used + cost > MaxPortsPerRule)
            {
                groups.Add($"{option} {string.Join(',', current)} ");
                current.Clear();
                used = 0;
            }

            current.Add(range.First == range.Last ? $"{range.First}" : $"{range.First}:{range.Last}");
            used += cost;
        }

        groups.Add($"{option} {string.Join(',', current)} ");
        return groups;
    }

    private static string BlockRule(string op, IPNetwork network) => $"{op} {BlockChain} -s {NftScript.Format(network)} -j DROP";
}
