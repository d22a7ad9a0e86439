using Shaper.Packets;
using Shaper.Rules;

namespace Shaper.Engine;

/// <summary>A rule's <c>match</c> compiled for the packet path: plain fields, port ranges, address sets and interfaces.</summary>
internal sealed class RuleMatcher
{
    private readonly InterfaceMatch? _interface;

    /// <summary>The interfaces the rule is held to, null for any.</summary>
    public InterfaceMatch? Interface => _interface;
    private readonly byte _protocol;
    private readonly bool _anyProtocol;
    private readonly PortRange[] _dport;
    private readonly PortRange[] _sport;
    private readonly AddressSet? _src;
    private readonly AddressSet? _dst;
    private readonly bool _synOnly;

    /// <summary>Compiles <paramref name="match"/>; <paramref name="iface"/> is the interface the rule is held to, if any.</summary>
    public RuleMatcher(RuleMatch match, InterfaceMatch? iface = null)
    {
        _interface = iface;
        _anyProtocol = match.Proto == Protocol.Any;
        _protocol = match.Proto switch
        {
            Protocol.Tcp => 6,
            Protocol.Udp => 17,
            Protocol.Icmp => 1,
            Protocol.Icmpv6 => 58,
            _ => 0,
        };
        _dport = [.. match.Dport];
        _sport = [.. match.Sport];
        _src = match.Src.Count > 0 ? new AddressSet(match.Src) : null;
        _dst = match.Dst.Count > 0 ? new AddressSet(match.Dst) : null;
        _synOnly = match.Syn == true;
    }

    public bool Matches(in PacketMeta packet)
    {
        if (!_anyProtocol && packet.Protocol != _protocol)
        {
            return false;
        }

        if (_synOnly && (packet.Protocol != 6 || (packet.TcpFlags & (TcpFlags.Syn | TcpFlags.Ack)) != TcpFlags.Syn))
        {
            return false;
        }

        if ((_dport.Length > 0 && (packet.IsLaterFragment || !InRanges(_dport, packet.DestinationPort)))
            || (_sport.Length > 0 && (packet.IsLaterFragment || !InRanges(_sport, packet.SourcePort))))
        {
            return false;
        }

        if (_interface is not null && !_interface.Matches(packet.InterfaceIndex))
        {
            return false;
        }

        return (_src is null || _src.Contains(packet.Family, packet.Source))
            && (_dst is null || _dst.Contains(packet.Family, packet.Destination));
    }

    private static bool InRanges(PortRange[] ranges, ushort port)
    {
        foreach (var range in ranges)
        {
            if (range.Contains(port))
            {
                return true;
            }
        }

        return false;
    }
}
