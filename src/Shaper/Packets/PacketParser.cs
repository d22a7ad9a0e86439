using System.Buffers.Binary;

namespace Shaper.Packets;

/// <summary>
/// Parses a captured frame into a <see cref="PacketMeta"/> straight from a <see cref="ReadOnlySpan{T}"/>:
/// no allocation, no copy, no exception for any input. Pass <c>PacketCapture.Data</c> from SharpPcap, not
/// <c>GetPacket()</c>, which copies. PacketDotNet is the reference this parser is tested against, not its engine.
/// </summary>
/// <remarks>
/// <para>
/// Only the headers the parser reads must be in the frame: a capture cut by the snap length still parses
/// when the IP and transport headers are in it, and <see cref="PacketMeta.IpLength"/> comes from the IP header,
/// not from the captured length. A header that runs past the frame is <see cref="ParseResult.Truncated"/>; a header
/// that runs past the IP packet's own length field (the rest of the frame is link padding) is
/// <see cref="ParseResult.Malformed"/>, so padding is never read as a header.
/// </para>
/// <para>
/// Later fragments (IPv4 offset or IPv6 fragment offset not 0) are <see cref="ParseResult.Ok"/> with
/// <see cref="PacketMeta.IsLaterFragment"/> set, the protocol from the fragment's header and no ports.
/// A first fragment too short to hold its transport header is <see cref="ParseResult.Malformed"/> (RFC 1858).
/// </para>
/// <para>
/// An IPv6 packet whose source and destination are both IPv4-mapped (::ffff:a.b.c.d) is reported as IPv4;
/// when only one of them is, the packet stays IPv6 with both addresses as 128-bit numbers.
/// </para>
/// </remarks>
public static class PacketParser
{
    /// <summary>The most VLAN tags (802.1Q, 802.1ad, 0x9100) the parser walks before it calls a frame malformed.</summary>
    public const int MaxVlanTags = 8;

    /// <summary>The most IPv6 extension headers the parser walks before it calls a packet malformed.</summary>
    public const int MaxIPv6ExtensionHeaders = 16;

    private const int EthernetHeaderLength = 14;
    private const int SllHeaderLength = 16;
    private const int Sll2HeaderLength = 20;
    private const int VlanTagLength = 4;
    private const int IPv4MinHeaderLength = 20;
    private const int IPv6HeaderLength = 40;
    private const int TcpMinHeaderLength = 20;
    private const int UdpHeaderLength = 8;
    private const int IcmpHeaderLength = 8;
    private const int IcmpV6HeaderLength = 4;
    private const int IPv6FragmentHeaderLength = 8;

    private const ushort EtherTypeIPv4 = 0x0800;
    private const ushort EtherTypeIPv6 = 0x86DD;
    private const ushort EtherTypeVlan = 0x8100;
    private const ushort EtherTypeQinQ = 0x88A8;
    private const ushort EtherTypeQinQLegacy = 0x9100;

    private const byte ProtocolIcmp = 1;
    private const byte ProtocolTcp = 6;
    private const byte ProtocolUdp = 17;
    private const byte ProtocolIcmpV6 = 58;

    private const byte NextHopByHop = 0;
    private const byte NextRouting = 43;
    private const byte NextFragment = 44;
    private const byte NextAuthentication = 51;
    private const byte NextDestinationOptions = 60;
    private const byte NextMobility = 135;
    private const byte NextHip = 139;
    private const byte NextShim6 = 140;

    /// <summary>The upper 96 bits of an IPv4-mapped IPv6 address (::ffff:0:0/96), as the address shifted right by 32.</summary>
    private static readonly UInt128 V4MappedPrefix = 0xFFFF;

    /// <summary>
    /// Maps a pcap link type (DLT/LINKTYPE number, as in <c>ICaptureDevice.LinkType</c>) to the
    /// <see cref="LinkKind"/> the parser understands.
    /// </summary>
    /// <param name="dlt">The link type: 1 Ethernet, 113 Linux cooked v1, 276 Linux cooked v2, 101/12/14 raw IP, 228 raw IPv4, 229 raw IPv6.</param>
    /// <param name="link">The link kind when the method returns true.</param>
    /// <returns>False for a link type the parser does not read (802.11, PPP, loopback…).</returns>
    public static bool TryFromLinkType(int dlt, out LinkKind link)
    {
        switch (dlt)
        {
            case 1:
                link = LinkKind.Ethernet;
                return true;
            case 113:
                link = LinkKind.LinuxSll;
                return true;
            case 276:
                link = LinkKind.LinuxSll2;
                return true;
            // LINKTYPE_RAW is 101 in files; libpcap hands it back as DLT_RAW, which is 12 on Linux and 14 on OpenBSD.
            case 101:
            case 12:
            case 14:
            case 228:
            case 229:
                link = LinkKind.RawIp;
                return true;
            default:
                link = default;
                return false;
        }
    }

    /// <summary>
    /// Parses one frame. <see cref="PacketMeta.TimestampNs"/> is left 0 for the caller to set.
    /// </summary>
    /// <param name="frame">The captured bytes, starting with the link header of <paramref name="link"/>.</param>
    /// <param name="link">The frame's link layer (see <see cref="TryFromLinkType"/>).</param>
    /// <param name="meta">The packet's fields when the result is <see cref="ParseResult.Ok"/>; all zero otherwise.</param>
    /// <returns>What the parser made of the frame. It never throws for any content of <paramref name="frame"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="link"/> is not a defined <see cref="LinkKind"/>.</exception>
    public static ParseResult Parse(ReadOnlySpan<byte> frame, LinkKind link, out PacketMeta meta)
    {
        meta = default;
        var result = link switch
        {
            LinkKind.Ethernet => ParseLinkPayload(frame, EthernetHeaderLength - 2, EthernetHeaderLength, ref meta),
            LinkKind.LinuxSll => ParseLinkPayload(frame, SllHeaderLength - 2, SllHeaderLength, ref meta),
            LinkKind.LinuxSll2 => ParseLinkPayload(frame, 0, Sll2HeaderLength, ref meta),
            LinkKind.RawIp => ParseRawIp(frame, ref meta),
            _ => throw new ArgumentOutOfRangeException(nameof(link), link, "not a LinkKind"),
        };

        if (result != ParseResult.Ok)
        {
            meta = default;
        }
        else if (link == LinkKind.LinuxSll2)
        {
            // The cooked v2 header names the interface the packet arrived on (libpcap's "any" device; pcap-linktype(7)).
            meta.InterfaceIndex = BinaryPrimitives.ReadInt32BigEndian(frame.Slice(4, 4));
        }

        return result;
    }

    /// <summary>
    /// Reads the EtherType at <paramref name="typeOffset"/>, walks VLAN tags after the link header (Ethernet,
    /// and cooked captures where libpcap re-inserts the tag), and hands the IP packet on.
    /// </summary>
    private static ParseResult ParseLinkPayload(ReadOnlySpan<byte> frame, int typeOffset, int headerLength, ref PacketMeta meta)
    {
        if (frame.Length < headerLength)
        {
            return ParseResult.Truncated;
        }

        var etherType = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(typeOffset, 2));
        var offset = headerLength;
        var tags = 0;
        while (etherType is EtherTypeVlan or EtherTypeQinQ or EtherTypeQinQLegacy)
        {
            if (tags == MaxVlanTags)
            {
                return ParseResult.Malformed;
            }

            if (frame.Length - offset < VlanTagLength)
            {
                return ParseResult.Truncated;
            }

            // Each tag overwrites the last, so the innermost (customer) VLAN is what remains.
            meta.VlanId = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(offset, 2)) & 0x0FFF);
            etherType = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(offset + 2, 2));
            offset += VlanTagLength;
            tags++;
        }

        return etherType switch
        {
            EtherTypeIPv4 => ParseIPv4(frame[offset..], ref meta),
            EtherTypeIPv6 => ParseIPv6(frame[offset..], ref meta),
            _ => ParseResult.NotIp,
        };
    }

    private static ParseResult ParseRawIp(ReadOnlySpan<byte> packet, ref PacketMeta meta)
    {
        if (packet.IsEmpty)
        {
            return ParseResult.Truncated;
        }

        return (packet[0] >> 4) switch
        {
            4 => ParseIPv4(packet, ref meta),
            6 => ParseIPv6(packet, ref meta),
            _ => ParseResult.Malformed,
        };
    }

    private static ParseResult ParseIPv4(ReadOnlySpan<byte> packet, ref PacketMeta meta)
    {
        if (packet.IsEmpty)
        {
            return ParseResult.Truncated;
        }

        if (packet[0] >> 4 != 4)
        {
            return ParseResult.Malformed;
        }

        var headerLength = (packet[0] & 0x0F) * 4;
        if (headerLength < IPv4MinHeaderLength)
        {
            return ParseResult.Malformed;
        }

        if (packet.Length < IPv4MinHeaderLength)
        {
            return ParseResult.Truncated;
        }

        var totalLength = BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(2, 2));
        if (totalLength < headerLength)
        {
            return ParseResult.Malformed;
        }

        if (packet.Length < headerLength)
        {
            return ParseResult.Truncated;
        }

        meta.Family = IpFamily.V4;
        meta.Protocol = packet[9];
        meta.Source = BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(12, 4));
        meta.Destination = BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(16, 4));
        meta.IpLength = totalLength;

        var fragmentOffset = BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(6, 2)) & 0x1FFF;
        if (fragmentOffset != 0)
        {
            meta.IsLaterFragment = true;
            return ParseResult.Ok;
        }

        var cutByCapture = packet.Length < totalLength;
        var end = cutByCapture ? packet.Length : totalLength;
        return ParseTransport(packet[headerLength..end], cutByCapture, ref meta);
    }

    private static ParseResult ParseIPv6(ReadOnlySpan<byte> packet, ref PacketMeta meta)
    {
        if (packet.IsEmpty)
        {
            return ParseResult.Truncated;
        }

        if (packet[0] >> 4 != 6)
        {
            return ParseResult.Malformed;
        }

        if (packet.Length < IPv6HeaderLength)
        {
            return ParseResult.Truncated;
        }

        var ipLength = IPv6HeaderLength + BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(4, 2));
        var source = BinaryPrimitives.ReadUInt128BigEndian(packet.Slice(8, 16));
        var destination = BinaryPrimitives.ReadUInt128BigEndian(packet.Slice(24, 16));
        if (source >> 32 == V4MappedPrefix && destination >> 32 == V4MappedPrefix)
        {
            meta.Family = IpFamily.V4;
            meta.Source = (uint)source;
            meta.Destination = (uint)destination;
        }
        else
        {
            meta.Family = IpFamily.V6;
            meta.Source = source;
            meta.Destination = destination;
        }

        meta.IpLength = ipLength;

        var cutByCapture = packet.Length < ipLength;
        var end = cutByCapture ? packet.Length : ipLength;
        var next = packet[6];
        var offset = IPv6HeaderLength;
        for (var headers = 0; ; headers++)
        {
            int length;
            switch (next)
            {
                case NextHopByHop:
                case NextRouting:
                case NextDestinationOptions:
                case NextMobility:
                case NextHip:
                case NextShim6:
                case NextAuthentication:
                    if (headers == MaxIPv6ExtensionHeaders)
                    {
                        return ParseResult.Malformed;
                    }

                    if (end - offset < 2)
                    {
                        return Short(cutByCapture);
                    }

                    // AH counts 4-octet units minus 2 (RFC 4302); the others 8-octet units minus 1 (RFC 8200).
                    length = next == NextAuthentication ? (packet[offset + 1] + 2) * 4 : (packet[offset + 1] + 1) * 8;
                    if (end - offset < length)
                    {
                        return Short(cutByCapture);
                    }

                    next = packet[offset];
                    offset += length;
                    break;

                case NextFragment:
                    if (headers == MaxIPv6ExtensionHeaders)
                    {
                        return ParseResult.Malformed;
                    }

                    if (end - offset < IPv6FragmentHeaderLength)
                    {
                        return Short(cutByCapture);
                    }

                    next = packet[offset];
                    var fragmentOffset = BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(offset + 2, 2)) >> 3;
                    offset += IPv6FragmentHeaderLength;
                    if (fragmentOffset != 0)
                    {
                        meta.Protocol = next;
                        meta.IsLaterFragment = true;
                        return ParseResult.Ok;
                    }

                    break;

                default:
                    // The upper layer, or ESP (50) and No Next Header (59), behind which nothing is readable.
                    meta.Protocol = next;
                    return ParseTransport(packet[offset..end], cutByCapture, ref meta);
            }
        }
    }

    /// <summary>Reads ports, flags or ICMP type and code from the IP payload (bounded by the IP length).</summary>
    /// <param name="payload">The IP payload, cut at the IP packet's length or at the end of the capture.</param>
    /// <param name="cutByCapture">True when the capture ended before the IP packet did.</param>
    /// <param name="meta">Receives the transport fields; <see cref="PacketMeta.Protocol"/> is already set.</param>
    private static ParseResult ParseTransport(ReadOnlySpan<byte> payload, bool cutByCapture, ref PacketMeta meta)
    {
        switch (meta.Protocol)
        {
            case ProtocolTcp:
                if (payload.Length < TcpMinHeaderLength)
                {
                    return Short(cutByCapture);
                }

                var dataOffset = (payload[12] >> 4) * 4;
                if (dataOffset < TcpMinHeaderLength)
                {
                    return ParseResult.Malformed;
                }

                // Options cut off by the snap length are fine (nothing here reads them); options
                // longer than the IP packet itself are not.
                if (!cutByCapture && dataOffset > payload.Length)
                {
                    return ParseResult.Malformed;
                }

                meta.SourcePort = BinaryPrimitives.ReadUInt16BigEndian(payload[..2]);
                meta.DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(payload.Slice(2, 2));
                meta.TcpFlags = (TcpFlags)payload[13];
                return ParseResult.Ok;

            case ProtocolUdp:
                if (payload.Length < UdpHeaderLength)
                {
                    return Short(cutByCapture);
                }

                meta.SourcePort = BinaryPrimitives.ReadUInt16BigEndian(payload[..2]);
                meta.DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(payload.Slice(2, 2));
                return ParseResult.Ok;

            case ProtocolIcmp:
            case ProtocolIcmpV6:
                // ICMP's header is 8 bytes for every message (RFC 792); ICMPv6 fixes only the first 4 (RFC 4443).
                if (payload.Length < (meta.Protocol == ProtocolIcmp ? IcmpHeaderLength : IcmpV6HeaderLength))
                {
                    return Short(cutByCapture);
                }

                meta.IcmpType = payload[0];
                meta.IcmpCode = payload[1];
                return ParseResult.Ok;

            default:
                return ParseResult.Ok;
        }
    }

    /// <summary>A header that does not fit: the capture's fault, or the packet's own length field's.</summary>
    private static ParseResult Short(bool cutByCapture) => cutByCapture ? ParseResult.Truncated : ParseResult.Malformed;
}
