using System.Globalization;
using System.Net;
using System.Text;
using Shaper.Rules;

namespace Shaper.Capture;

/// <summary>
/// Builds the libpcap filter for live capture from the rules the engine observes (the enforcement plan's
/// observed rules), so the kernel hands the daemon only packets one of them could match. The filter is a coarse superset: the engine's matcher decides
/// exactly (TCP flags are not in the filter because libpcap cannot test them on IPv6).
/// </summary>
public static class BpfFilter
{
    /// <summary>The filter for the observed <paramref name="rules"/>; empty when there are none.</summary>
    public static string Build(IEnumerable<Rule> rules)
    {
        ArgumentNullException.ThrowIfNull(rules);
        var clauses = new List<string>();
        foreach (var rule in rules)
        {
            var clause = Clause(rule.Match);
            if (clause.Length == 0)
            {
                return "ip or ip6";
            }

            if (!clauses.Contains(clause))
            {
                clauses.Add(clause);
            }
        }

        return clauses.Count == 0 ? "" : string.Join(" or ", clauses.Select(c => $"({c})"));
    }

    private static string Clause(RuleMatch match)
    {
        var parts = new List<string>();
        var proto = match.Proto switch
        {
            Protocol.Tcp => "tcp",
            Protocol.Udp => "udp",
            Protocol.Icmp => "icmp",
            Protocol.Icmpv6 => "icmp6",
            _ => "",
        };
        if (proto.Length > 0)
        {
            parts.Add(proto);
        }

        AddPorts(parts, "dst", match.Dport);
        AddPorts(parts, "src", match.Sport);
        AddNets(parts, "src", match.Src);
        AddNets(parts, "dst", match.Dst);
        return string.Join(" and ", parts);
    }

    private static void AddPorts(List<string> parts, string direction, IReadOnlyList<PortRange> ports)
    {
        if (ports.Count == 0)
        {
            return;
        }

        var any = string.Join(" or ", ports.Select(p => p.First == p.Last
            ? string.Create(CultureInfo.InvariantCulture, $"{direction} port {p.First}")
            : string.Create(CultureInfo.InvariantCulture, $"{direction} portrange {p.First}-{p.Last}")));
        parts.Add($"({any})");
    }

    private static void AddNets(List<string> parts, string direction, IReadOnlyList<IPNetwork> nets)
    {
        if (nets.Count == 0)
        {
            return;
        }

        // Addresses come from the validated model and are formatted here, never passed through as text.
        var any = new StringBuilder();
        foreach (var net in nets)
        {
            if (any.Length > 0)
            {
                any.Append(" or ");
            }

            any.Append(CultureInfo.InvariantCulture, $"{direction} net {net.BaseAddress}/{net.PrefixLength}");
        }

        parts.Add($"({any})");
    }
}
