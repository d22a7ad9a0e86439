using System.Text.Json.Nodes;

namespace Shaper.Tests.Lab;

/// <summary>
/// A table of the test's own (<c>inet tally</c>, priority 0, after the shaper's −10; pass 10 to come after the
/// iptables backend's chains in <c>filter</c>, which hook at 0 too) that counts, per source
/// address, the UDP packets to a port that got through: per-element counters of a dynamic set, read back
/// as JSON. It is also "a table of another owner" that the shaper must leave alone.
/// </summary>
public static class Tally
{
    public static void Install(NetworkLab lab, ushort port = 9000, int priority = 0)
    {
        var script = $$"""
            table inet tally {
                set seen4 { type ipv4_addr; size 262144; flags dynamic; counter; }
                set seen6 { type ipv6_addr; size 262144; flags dynamic; counter; }
                chain input {
                    type filter hook input priority {{priority}}; policy accept;
                    udp dport {{port}} update @seen4 { ip saddr }
                    udp dport {{port}} update @seen6 { ip6 saddr }
                }
            }
            """;
        Run.Command("ip", ["netns", "exec", lab.B, "nft", "-f", "-"], script).EnsureSuccess("installing the tally table");
    }

    /// <summary>Packets counted per source address.</summary>
    public static Dictionary<string, long> Read(NetworkLab lab)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var set in new[] { "seen4", "seen6" })
        {
            var json = lab.Exec(lab.B, "nft", "-j", "list", "set", "inet", "tally", set).EnsureSuccess("reading the tally").Output;
            var nft = JsonNode.Parse(json)!["nftables"]!.AsArray();
            foreach (var item in nft)
            {
                foreach (var elem in item?["set"]?["elem"]?.AsArray() ?? [])
                {
                    var e = elem!["elem"]!;
                    counts[e["val"]!.GetValue<string>()] = e["counter"]!["packets"]!.GetValue<long>();
                }
            }
        }

        return counts;
    }
}
