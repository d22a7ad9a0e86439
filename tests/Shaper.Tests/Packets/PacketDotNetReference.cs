using System.Buffers.Binary;
using System.Net;
using PacketDotNet;
using PacketDotNet.Utils;
using Shaper.Packets;

namespace Shaper.Tests.Packets;

/// <summary>
/// Decodes a frame with PacketDotNet into the fields <see cref="PacketParser"/> reports: the reference side of
/// the differential test. Where the parser's contract says more than PacketDotNet does (a later fragment has no
/// ports; an IPv6 packet between two IPv4-mapped addresses is IPv4; the innermost VLAN tag wins), that rule is
/// applied here to PacketDotNet's own fields.
/// </summary>
internal static class PacketDotNetReference
{
    private static readonly UInt128 V4Mapped = (UInt128)0xFFFF << 32;
    private static readonly UInt128 V4MappedMask = ~(UInt128)0xFFFF_FFFF;

    public static ParsedFields Decode(LinkLayers link, byte[] frame)
    {
        // PacketDotNet 1.4.8 has no decoder for LINKTYPE_IPV4/IPV6 (228/229); their frames are raw IP packets.
        var packet = Packet.ParsePacket(link is LinkLayers.IPv4 or LinkLayers.IPv6 ? LinkLayers.Raw : link, frame);
        ushort vlan = 0;
        IPPacket? ip = null;
        for (var p = packet; p is not null; p = p.PayloadPacket)
        {
            if (p is Ieee8021QPacket tag)
            {
                vlan = tag.VlanIdentifier;
            }

            if (p is IPPacket found)
            {
                ip = found;
                break;
            }
        }

        if (ip is null)
        {
            return ParsedFields.NotIp;
        }

        var fields = new ParsedFields { Result = ParseResult.Ok, VlanId = vlan };
        var source = Address(ip.SourceAddress);
        Packet? transport;
        var destination = Address(ip.DestinationAddress);
        if (ip is IPv4Packet v4)
        {
            transport = v4.FragmentOffset == 0 ? v4.PayloadPacket : null;
            fields = fields with
            {
                Family = IpFamily.V4,
                Protocol = (byte)v4.Protocol,
                IpLength = v4.TotalLength,
                IsLaterFragment = v4.FragmentOffset != 0,
            };
        }
        else
        {
            var v6 = (IPv6Packet)ip;
            (var protocol, var later, transport) = WalkExtensionHeaders(v6, frame);
            var mapped = (source & V4MappedMask) == V4Mapped && (destination & V4MappedMask) == V4Mapped;
            if (mapped)
            {
                source &= 0xFFFF_FFFF;
                destination &= 0xFFFF_FFFF;
            }

            fields = fields with
            {
                Family = mapped ? IpFamily.V4 : IpFamily.V6,
                Protocol = protocol,
                IpLength = v6.PayloadLength + 40,
                IsLaterFragment = later,
            };
        }

        fields = fields with { Source = source, Destination = destination };
        if (fields.IsLaterFragment)
        {
            return fields;
        }

        return transport switch
        {
            UdpPacket udp when fields.Protocol == 17 => fields with { SourcePort = udp.SourcePort, DestinationPort = udp.DestinationPort },
            TcpPacket tcp when fields.Protocol == 6 => fields with
            {
                SourcePort = tcp.SourcePort,
                DestinationPort = tcp.DestinationPort,
                TcpFlags = (TcpFlags)(byte)tcp.Flags,
            },
            IcmpV4Packet icmp when fields.Protocol == 1 => fields with { IcmpType = (byte)((ushort)icmp.TypeCode >> 8), IcmpCode = (byte)icmp.TypeCode },
            IcmpV6Packet icmp6 when fields.Protocol == 58 => fields with { IcmpType = (byte)icmp6.Type, IcmpCode = icmp6.Code },
            _ => fields,
        };
    }

    /// <summary>
    /// Walks the extension headers one by one with PacketDotNet's own header type, then decodes the upper layer
    /// with PacketDotNet. Why not <c>IPv6Packet.ExtensionHeaders</c> and <c>PayloadPacket</c>: PacketDotNet 1.4.8
    /// reads every header of a chain at the first header's offset (three headers come back as three copies of
    /// the first; its header and ICMPv6 decoders ignore a segment's offset, so each gets a copy from index 0
    /// here), and it sizes an Authentication Header in 8-octet units, where RFC 4302 counts 4-octet units
    /// minus 2; so the lengths here are the RFCs', from the length field PacketDotNet reads. Both are its bugs, not the parser's; everything else here is PacketDotNet's decoding.
    /// </summary>
    private static (byte Protocol, bool Later, Packet? Transport) WalkExtensionHeaders(IPv6Packet v6, byte[] frame)
    {
        // The frame itself, not v6.Bytes, which PacketDotNet rebuilds from its miscounted header length. The
        // IPv6 header is where the addresses PacketDotNet decoded sit (its segments do not say where that is).
        var bytes = frame;
        var offset = HeaderStart(frame, v6) + 40;
        var end = Math.Min(bytes.Length, offset + v6.PayloadLength);
        var next = (byte)v6.NextHeader;
        while (next is 0 or 43 or 44 or 51 or 60)
        {
            var segment = new ByteArraySegment(bytes[offset..end]);
            var header = next == 44
                ? new IPv6FragmentationExtensionHeader((ProtocolType)next, segment)
                : new IPv6ExtensionHeader((ProtocolType)next, segment);
            var length = next switch
            {
                51 => (header.HeaderExtensionLength + 2) * 4, // RFC 4302
                44 => 8, // RFC 8200: fixed, its second byte is reserved
                _ => (header.HeaderExtensionLength + 1) * 8,
            };
            next = (byte)header.NextHeader;
            offset += length;
            if (header is IPv6FragmentationExtensionHeader { FragmentOffset: not 0 })
            {
                return (next, true, null);
            }
        }

        var payload = new ByteArraySegment(bytes[offset..end]);
        Packet? transport = next switch
        {
            17 => new UdpPacket(payload),
            6 => new TcpPacket(payload),
            58 => new IcmpV6Packet(payload),
            _ => null,
        };
        return (next, false, transport);
    }

    private static int HeaderStart(byte[] frame, IPv6Packet v6)
    {
        byte[] addresses = [.. v6.SourceAddress.GetAddressBytes(), .. v6.DestinationAddress.GetAddressBytes()];
        for (var i = 0; i + 40 <= frame.Length; i++)
        {
            if (frame[i] >> 4 == 6 && frame.AsSpan(i + 8, 32).SequenceEqual(addresses))
            {
                return i;
            }
        }

        throw new InvalidOperationException("PacketDotNet decoded IPv6 addresses that are not in the frame");
    }

    private static UInt128 Address(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        return bytes.Length == 4 ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }
}
