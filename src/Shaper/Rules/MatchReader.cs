using System.Net;
using System.Net.Sockets;
using Shaper.Rules.Toml;

namespace Shaper.Rules;

/// <summary>Reads a rule's <c>match</c> table and checks that its parts can match together.</summary>
internal sealed class MatchReader(FieldReader fields)
{
    public static readonly IReadOnlyList<string> Keys = ["proto", "dport", "sport", "src", "dst", "syn", "iface"];

    private readonly FieldReader _fields = fields;

    /// <summary>The match, and where match.src is written (for the dead-rule check); each field's value location goes into <paramref name="locations"/> as <c>match.NAME</c>.</summary>
    public (RuleMatch Match, SourceLocation? SrcLocation) Read(TomlTable table, string rule, Dictionary<string, SourceLocation> locations)
    {
        var bag = _fields.Bag;
        var where = $"match of {rule}";
        var match = new RuleMatch();
        TomlEntry? protoEntry = null;
        TomlEntry? synEntry = null;
        TomlEntry? srcEntry = null;
        TomlEntry? dstEntry = null;
        var portEntries = new List<TomlEntry>();
        var protoBad = false;
        foreach (var entry in table.Entries)
        {
            var subject = $"match.{entry.Key} of {rule}";
            locations[$"match.{entry.Key}"] = entry.Value.Location;
            switch (entry.Key)
            {
                case "proto":
                    protoEntry = entry;
                    var proto = _fields.Choice(entry, subject, Choices.Proto);
                    protoBad = proto is null;
                    match = match with { Proto = proto ?? Protocol.Any };
                    break;
                case "dport":
                    portEntries.Add(entry);
                    match = match with { Dport = Ports(entry, subject) };
                    break;
                case "sport":
                    portEntries.Add(entry);
                    match = match with { Sport = Ports(entry, subject) };
                    break;
                case "src":
                    srcEntry = entry;
                    match = match with { Src = Cidrs(entry, subject) };
                    break;
                case "dst":
                    dstEntry = entry;
                    match = match with { Dst = Cidrs(entry, subject) };
                    break;
                case "syn":
                    synEntry = entry;
                    match = match with { Syn = _fields.Boolean(entry, subject) };
                    break;
                case "iface":
                    match = match with { Iface = Iface(entry, subject) };
                    break;
                default:
                    _fields.UnknownKey(entry, where, Keys);
                    break;
            }
        }

        if (protoBad)
        {
            // The bad proto is reported; checking ports and syn against a guess would only add noise.
            return (match, srcEntry?.KeyLocation);
        }

        var protoWord = protoEntry is null ? null : Choices.NameOf(Choices.Proto, match.Proto);
        foreach (var ports in portEntries)
        {
            if (match.Proto is Protocol.Icmp or Protocol.Icmpv6)
            {
                bag.Error(ports.KeyLocation, $"match.{ports.Key} of {rule} cannot match: proto = \"{protoWord}\" has no ports", $"remove {ports.Key}, or use proto = \"tcp\" or \"udp\"");
            }
            else if (match.Proto is Protocol.Any)
            {
                bag.Error(ports.KeyLocation, $"match.{ports.Key} of {rule} needs a protocol with ports", "add proto = \"tcp\" or proto = \"udp\" to match");
            }
        }

        if (synEntry is not null && match.Syn == false)
        {
            bag.Warning(synEntry.Value.Location, $"match.syn = false of {rule} matches every packet", "remove it; write syn = true to match only new TCP connections");
            match = match with { Syn = null };
        }
        else if (synEntry is not null && match.Syn == true && match.Proto != Protocol.Tcp)
        {
            bag.Error(synEntry.KeyLocation, $"match.syn of {rule} needs proto = \"tcp\"{(protoWord is null ? "" : $", not \"{protoWord}\"")}", "add proto = \"tcp\" to match, or remove syn");
        }

        if (srcEntry is not null && dstEntry is not null && OnlyFamily(match.Src) is { } srcFamily && OnlyFamily(match.Dst) is { } dstFamily && srcFamily != dstFamily)
        {
            bag.Warning(dstEntry.KeyLocation, $"match of {rule} can never match: src is only {Family(srcFamily)} and dst only {Family(dstFamily)}", "use addresses of one family in src and dst, or split the rule in two");
        }

        return (match, srcEntry?.KeyLocation);
    }

    private List<PortRange> Ports(TomlEntry entry, string subject)
    {
        var ports = _fields.Ports(entry, subject) ?? [];
        if (entry.Value is TomlArray { Items.Count: 0 })
        {
            _fields.Bag.Warning(entry.Value.Location, $"{subject} is an empty list, which matches every port", $"remove {entry.Key}, or list ports, e.g. {entry.Key} = [22]");
        }

        return ports;
    }

    private List<IPNetwork> Cidrs(TomlEntry entry, string subject)
    {
        var networks = _fields.Cidrs(entry, subject) ?? [];
        if (entry.Value is TomlArray { Items.Count: 0 })
        {
            _fields.Bag.Warning(entry.Value.Location, $"{subject} is an empty list, which matches every address", $"remove {entry.Key}, or list CIDRs, e.g. {entry.Key} = [\"192.0.2.0/24\"]");
        }

        return networks;
    }

    private string? Iface(TomlEntry entry, string subject)
    {
        var name = _fields.String(entry, subject, "\"eth0\"");
        if (name is not null && !InterfaceNames.IsValid(name, allowWildcard: true))
        {
            _fields.Bag.Error(entry.Value.Location, $"{subject}: '{name}' is not an interface name", "write a name such as \"eth0\" or a prefix such as \"eth*\" (1 to 15 characters, no '/', ':' or spaces)");
            return null;
        }

        if (name is not null && name.EndsWith('+'))
        {
            // One meaning on every backend: a trailing '*' is the prefix wildcard (nft's iifname "v*", iptables' -i v+);
            // a trailing '+' would be a wildcard to iptables and a literal name to nftables.
            var stem = name[..^1];
            _fields.Bag.Error(
                entry.Value.Location,
                $"{subject}: '{name}' ends in '+', which iptables reads as every interface starting with '{stem}' and nftables as the name '{name}'",
                $"write \"{stem}*\" for every interface whose name starts with '{stem}' (the same on every backend), or the interface's full name");
            return null;
        }

        return name;
    }

    private static AddressFamily? OnlyFamily(IReadOnlyList<IPNetwork> networks)
    {
        if (networks.Count == 0)
        {
            return null;
        }

        var family = networks[0].BaseAddress.AddressFamily;
        return networks.All(n => n.BaseAddress.AddressFamily == family) ? family : null;
    }

    private static string Family(AddressFamily family) => family == AddressFamily.InterNetwork ? "IPv4" : "IPv6";
}
