using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using PacketDotNet;
using PacketDotNet.Utils;

namespace Shaper.Tests.Packets;

/// <summary>
/// Builds the frames of the differential test with PacketDotNet: IP packets of every kind the parser reads
/// (UDP, TCP with every flag, ICMP, ICMPv6, another protocol, IPv4 options, IPv6 extension headers,
/// fragments, IPv4-mapped addresses), wrapped in every link layer it reads (Ethernet untagged, 802.1Q,
/// QinQ, Linux cooked v1 and v2, raw IP). PacketDotNet has no builder for IPv4 options, IPv6 extension
/// headers, VLAN tags or cooked headers: those bytes are spliced in by hand, and PacketDotNet decodes them
/// in the test like everything else.
/// </summary>
internal static class ReferenceFrames
{
    /// <summary>How many kinds <see cref="IpPacket"/> builds; kind <c>i % IpKinds</c> covers them all in turn.</summary>
    public const int IpKinds = 19;

    private const byte HopByHop = 0;
    private const byte Routing = 43;
    private const byte Fragment = 44;
    private const byte Authentication = 51;
    private const byte DestinationOptions = 60;

    /// <summary>An IP packet (IPv4 or IPv6, by its first nibble) of kind <paramref name="kind"/> with random fields.</summary>
    public static byte[] IpPacket(Random rng, int kind) => kind switch
    {
        0 => V4(rng, Udp(rng)),
        1 => V4(rng, Tcp(rng)),
        2 => V4(rng, IcmpV4(rng)),
        3 => WithIPv4Options(V4(rng, Udp(rng)), rng.Next(1, 11)), // 1 to 10 option words: IHL 6 to 15
        4 => WithIPv4Options(V4(rng, Tcp(rng)), 10), // the longest IPv4 header
        5 => LaterFragmentV4(V4(rng, Udp(rng)), rng), // no transport header in it: no ports
        6 => V4(rng, Opaque(rng), (ProtocolType)47), // GRE: a protocol without ports
        7 => V6(rng, Udp(rng)),
        8 => V6(rng, Tcp(rng)),
        9 => V6(rng, IcmpV6(rng)),
        10 => WithExtensionHeaders(V6(rng, Udp(rng)), rng, HopByHop),
        11 => WithExtensionHeaders(V6(rng, Tcp(rng)), rng, HopByHop, Routing, DestinationOptions),
        12 => WithExtensionHeaders(V6(rng, Udp(rng)), rng, Fragment), // a first fragment: ports are there
        13 => LaterFragmentV6(V6(rng, Udp(rng)), rng),
        14 => WithExtensionHeaders(V6(rng, Tcp(rng)), rng, Authentication),
        15 => WithExtensionHeaders(V6(rng, IcmpV6(rng)), rng, DestinationOptions, DestinationOptions),
        16 => V6(rng, Udp(rng), mapped: 2), // both addresses IPv4-mapped: reported as IPv4
        17 => V6(rng, Tcp(rng), mapped: 1), // only the source mapped: stays IPv6
        18 => WithExtensionHeaders(V6(rng, Udp(rng)), rng, HopByHop, DestinationOptions, Routing, Fragment, DestinationOptions),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>An Ethernet frame around <paramref name="ip"/> with the given VLAN tags (TPID, VLAN id), outermost first.</summary>
    public static byte[] Ethernet(Random rng, byte[] ip, params (ushort Tpid, ushort Vlan)[] tags)
    {
        var inner = tags.Length == 0 ? EtherTypeOf(ip) : (EthernetType)tags[0].Tpid;
        var ethernet = new EthernetPacket(Mac(rng), Mac(rng), inner) { PayloadData = [.. Tags(rng, ip, tags), .. ip] };

        // A NIC pads a frame to Ethernet's 60-byte minimum; the padding is not part of the IP packet.
        var bytes = ethernet.Bytes;
        return bytes.Length >= 60 ? bytes : [.. bytes, .. new byte[60 - bytes.Length]];
    }

    /// <summary>An ARP request in Ethernet: not IP.</summary>
    public static byte[] Arp(Random rng)
    {
        var arp = new ArpPacket(ArpOperation.Request, Mac(rng), new IPAddress(rng.Next()), Mac(rng), new IPAddress(rng.Next()));
        return new EthernetPacket(Mac(rng), Mac(rng), EthernetType.Arp) { PayloadPacket = arp }.Bytes;
    }

    /// <summary>A Linux cooked (v1) frame: packet type, ARPHRD_ETHER, address length and address, protocol; VLAN tags as libpcap re-inserts them.</summary>
    public static byte[] LinuxSll(Random rng, byte[] ip, params (ushort Tpid, ushort Vlan)[] tags)
    {
        var header = new byte[16];
        BinaryPrimitives.WriteUInt16BigEndian(header, (ushort)rng.Next(5));
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), 1);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(4), 6);
        Mac(rng).GetAddressBytes().CopyTo(header, 6);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), tags.Length == 0 ? (ushort)EtherTypeOf(ip) : tags[0].Tpid);
        return [.. header, .. Tags(rng, ip, tags), .. ip];
    }

    /// <summary>A Linux cooked v2 frame: protocol, reserved, interface index, ARPHRD_ETHER, packet type, address length and address.</summary>
    public static byte[] LinuxSll2(Random rng, byte[] ip)
    {
        var header = new byte[20];
        BinaryPrimitives.WriteUInt16BigEndian(header, (ushort)EtherTypeOf(ip));
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), rng.Next(1, 64));
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(8), 1);
        header[10] = (byte)rng.Next(5);
        header[11] = 6;
        Mac(rng).GetAddressBytes().CopyTo(header, 12);
        return [.. header, .. ip];
    }

    private static EthernetType EtherTypeOf(byte[] ip) => ip[0] >> 4 == 4 ? EthernetType.IPv4 : EthernetType.IPv6;

    private static byte[] Tags(Random rng, byte[] ip, (ushort Tpid, ushort Vlan)[] tags)
    {
        var bytes = new byte[tags.Length * 4];
        for (var i = 0; i < tags.Length; i++)
        {
            // Priority in the top three bits, which the VLAN id must not pick up.
            BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(i * 4), (ushort)((rng.Next(8) << 13) | tags[i].Vlan));
            var next = i + 1 < tags.Length ? tags[i + 1].Tpid : (ushort)EtherTypeOf(ip);
            BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan((i * 4) + 2), next);
        }

        return bytes;
    }

    private static UdpPacket Udp(Random rng) =>
        new((ushort)rng.Next(65536), (ushort)rng.Next(65536)) { PayloadData = Opaque(rng) };

    private static TcpPacket Tcp(Random rng) => new((ushort)rng.Next(65536), (ushort)rng.Next(65536))
    {
        Flags = (ushort)rng.Next(256), // every combination of the eight flags in byte 13
        SequenceNumber = (uint)rng.NextInt64(1L << 32),
        WindowSize = (ushort)rng.Next(65536),
        PayloadData = Opaque(rng),
    };

    private static IcmpV4Packet IcmpV4(Random rng)
    {
        var bytes = new byte[8 + rng.Next(0, 32)];
        rng.NextBytes(bytes);
        bytes[0] = (byte)rng.Next(256);
        bytes[1] = (byte)rng.Next(16);
        return new IcmpV4Packet(new ByteArraySegment(bytes));
    }

    private static IcmpV6Packet IcmpV6(Random rng)
    {
        var bytes = new byte[8 + rng.Next(0, 32)];
        rng.NextBytes(bytes);
        bytes[0] = (byte)rng.Next(256);
        bytes[1] = (byte)rng.Next(16);
        return new IcmpV6Packet(new ByteArraySegment(bytes));
    }

    private static byte[] Opaque(Random rng)
    {
        var bytes = new byte[rng.Next(8, 64)];
        rng.NextBytes(bytes);
        return bytes;
    }

    private static byte[] V4(Random rng, Packet transport) => V4(rng, transport.Bytes, ProtocolOf(transport));

    private static byte[] V4(Random rng, byte[] payload, ProtocolType protocol)
    {
        var ip = new IPv4Packet(new IPAddress(rng.NextInt64(1L << 32)), new IPAddress(rng.NextInt64(1L << 32)))
        {
            PayloadData = payload,
            Protocol = protocol,
            TimeToLive = rng.Next(1, 256),
            Id = (ushort)rng.Next(65536),
        };
        ip.TotalLength = ip.HeaderLength * 4 + payload.Length;
        ip.UpdateIPChecksum();
        return ip.Bytes;
    }

    private static byte[] V6(Random rng, Packet transport, int mapped = 0)
    {
        var ip = new IPv6Packet(V6Address(rng, mapped >= 1), V6Address(rng, mapped == 2))
        {
            PayloadData = transport.Bytes,
            NextHeader = ProtocolOf(transport),
            HopLimit = rng.Next(1, 256),
        };
        ip.PayloadLength = (ushort)transport.Bytes.Length;
        return ip.Bytes;
    }

    private static ProtocolType ProtocolOf(Packet transport) => transport switch
    {
        UdpPacket => ProtocolType.Udp,
        TcpPacket => ProtocolType.Tcp,
        IcmpV4Packet => ProtocolType.Icmp,
        IcmpV6Packet => ProtocolType.IcmpV6,
        _ => throw new ArgumentOutOfRangeException(nameof(transport)),
    };

    private static IPAddress V6Address(Random rng, bool mapped)
    {
        var bytes = new byte[16];
        rng.NextBytes(bytes);
        if (mapped)
        {
            bytes.AsSpan(0, 10).Clear();
            bytes[10] = 0xFF;
            bytes[11] = 0xFF;
        }
        else
        {
            bytes[0] = 0x20; // a global unicast address, never mapped by chance
        }

        return new IPAddress(bytes);
    }

    private static PhysicalAddress Mac(Random rng)
    {
        var bytes = new byte[6];
        rng.NextBytes(bytes);
        return new PhysicalAddress(bytes);
    }

    /// <summary>Inserts <paramref name="words"/> 4-byte words of options (Record Route, then End of List) after the fixed IPv4 header.</summary>
    private static byte[] WithIPv4Options(byte[] packet, int words)
    {
        var options = new byte[words * 4];
        if (words > 1)
        {
            options[0] = 7; // Record Route: type, length (3 + 4n), pointer, n empty slots
            options[1] = (byte)((words * 4) - 1);
            options[2] = 4;
        }
        else
        {
            options[0] = 1; // three NOPs and End of List
            options[1] = 1;
            options[2] = 1;
        }

        byte[] result = [.. packet.AsSpan(0, 20), .. options, .. packet.AsSpan(20)];
        result[0] = (byte)(0x40 | (5 + words));
        BinaryPrimitives.WriteUInt16BigEndian(result.AsSpan(2), (ushort)result.Length);
        return Reparse(result);
    }

    private static byte[] LaterFragmentV4(byte[] packet, Random rng)
    {
        // More-fragments set or not, the offset (in 8-byte units) is what makes it a later fragment.
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(6), (ushort)((rng.Next(2) << 13) | rng.Next(1, 0x2000)));
        return Reparse(packet);
    }

    private static byte[] LaterFragmentV6(byte[] packet, Random rng)
    {
        var withHeader = WithExtensionHeaders(packet, rng, Fragment);
        BinaryPrimitives.WriteUInt16BigEndian(withHeader.AsSpan(42), (ushort)((rng.Next(1, 0x2000) << 3) | rng.Next(2)));
        return withHeader;
    }

    /// <summary>Inserts extension headers of the given types, in order, between the IPv6 header and its payload.</summary>
    private static byte[] WithExtensionHeaders(byte[] packet, Random rng, params byte[] types)
    {
        var upper = packet[6];
        var headers = new List<byte>();
        for (var i = 0; i < types.Length; i++)
        {
            var next = i + 1 < types.Length ? types[i + 1] : upper;
            headers.AddRange(ExtensionHeader(types[i], next, rng));
        }

        byte[] result = [.. packet.AsSpan(0, 40), .. headers, .. packet.AsSpan(40)];
        result[6] = types[0];
        BinaryPrimitives.WriteUInt16BigEndian(result.AsSpan(4), (ushort)(result.Length - 40));
        return result;
    }

    private static byte[] ExtensionHeader(byte type, byte next, Random rng)
    {
        byte[] header;
        switch (type)
        {
            case HopByHop:
            case DestinationOptions:
                // 8 × (n + 1) bytes: next, n, then one PadN option filling the rest.
                var units = rng.Next(0, 3);
                header = new byte[8 * (units + 1)];
                header[1] = (byte)units;
                header[2] = 1;
                header[3] = (byte)(header.Length - 4);
                break;
            case Routing:
                // Type 0 with no segments left and one address: 24 bytes.
                header = new byte[24];
                header[1] = 2;
                rng.NextBytes(header.AsSpan(8));
                break;
            case Fragment:
                // A first fragment (offset 0, more fragments) with a random identification.
                header = new byte[8];
                header[3] = 1;
                rng.NextBytes(header.AsSpan(4));
                break;
            case Authentication:
                // RFC 4302: payload length in 4-byte units minus 2; SPI, sequence number and a 12-byte ICV: 24 bytes.
                header = new byte[24];
                header[1] = 4;
                rng.NextBytes(header.AsSpan(4));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type));
        }

        header[0] = next;
        return header;
    }

    /// <summary>Hand-edited IPv4 bytes go through PacketDotNet once more, so that the test's input is what PacketDotNet itself would write.</summary>
    private static byte[] Reparse(byte[] ipv4)
    {
        var ip = new IPv4Packet(new ByteArraySegment(ipv4));
        ip.UpdateIPChecksum();
        return ip.Bytes;
    }
}
