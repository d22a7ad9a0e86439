using System.Net;

namespace Shaper.Rules;

/// <summary>A rule's <c>match</c> table. Empty lists and nulls match everything.</summary>
public sealed record RuleMatch
{
    /// <summary>The transport protocol.</summary>
    public Protocol Proto { get; init; } = Protocol.Any;

    /// <summary>Destination ports (ranges), any when empty.</summary>
    public IReadOnlyList<PortRange> Dport { get; init; } = [];

    /// <summary>Source ports (ranges), any when empty.</summary>
    public IReadOnlyList<PortRange> Sport { get; init; } = [];

    /// <summary>Source CIDRs, any when empty.</summary>
    public IReadOnlyList<IPNetwork> Src { get; init; } = [];

    /// <summary>Destination CIDRs, any when empty.</summary>
    public IReadOnlyList<IPNetwork> Dst { get; init; } = [];

    /// <summary>True: only TCP SYN without ACK (new connections); null: any.</summary>
    public bool? Syn { get; init; }

    /// <summary>Input interface name; null: any.</summary>
    public string? Iface { get; init; }
}
