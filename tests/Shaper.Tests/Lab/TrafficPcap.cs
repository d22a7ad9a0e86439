using System.Buffers.Binary;

namespace Shaper.Tests.Lab;

/// <summary>
/// Writes classic pcap files of Ethernet/IPv4/UDP frames addressed to the lab's receiver, for tcpreplay to
/// send from the sender namespace. Raw bytes rather than PacketDotNet: a flood file holds a million frames.
/// </summary>
public static class TrafficPcap
{
    private static readonly byte[] ReceiverMac = [0x02, 0, 0, 0, 0, 0x02];
    private static readonly byte[] SenderMac = [0x02, 0, 0, 0, 0, 0x01];

    /// <summary>One UDP packet: when (ns from the file's start), from where (IPv4 in the low 32 bits unless <paramref name="V6"/>), to which port, from which port.</summary>
    public readonly record struct Udp(long TimeNs, UInt128 Source, ushort DestinationPort, bool V6 = false, ushort SourcePort = 40000);

    /// <summary>
    /// A flood from <paramref name="count"/> random (spoofed) IPv4 sources between 11.0.0.0 and 223.0.0.0, one
    /// packet each to UDP 9000, 1 µs apart; the same seed gives the same flood.
    /// </summary>
    public static IEnumerable<Udp> SpoofedFlood(int count, int seed = 5)
    {
        var rng = new Random(seed);
        for (var i = 0; i < count; i++)
        {
            yield return new Udp(i * 1000L, (uint)rng.NextInt64(0x0B000000, 0xDF000000), 9000);
        }
    }

    /// <summary>The receiver's IPv6 address, 2001:db8::2.</summary>
    public static readonly UInt128 ReceiverV6 = ((UInt128)0x20010db8 << 96) | 2;

    public static void Write(string path, IEnumerable<Udp> packets)
    {
        using var file = new BufferedStream(File.Create(path), 1 << 20);
        Span<byte> header = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0xA1B23C4D); // nanosecond pcap
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], 65535);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], 1); // Ethernet
        file.Write(header);

        Span<byte> record = stackalloc byte[16 + 62];
        foreach (var packet in packets)
        {
            if (packet.V6)
            {
                WriteV6(file, packet);
                continue;
            }

            record = record[..(16 + 60)];
            record.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)(packet.TimeNs / 1_000_000_000));
            BinaryPrimitives.WriteUInt32LittleEndian(record[4..], (uint)(packet.TimeNs % 1_000_000_000));
            BinaryPrimitives.WriteUInt32LittleEndian(record[8..], 60);
            BinaryPrimitives.WriteUInt32LittleEndian(record[12..], 60);
            var frame = record[16..];
            ReceiverMac.CopyTo(frame);
            SenderMac.CopyTo(frame[6..]);
            BinaryPrimitives.WriteUInt16BigEndian(frame[12..], 0x0800);
            var ip = frame[14..];
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], 46);
            ip[8] = 64;
            ip[9] = 17;
            BinaryPrimitives.WriteUInt32BigEndian(ip[12..], (uint)packet.Source);
            BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0xC6120002); // 198.18.0.2, the receiver
            uint sum = 0;
            for (var i = 0; i < 20; i += 2)
            {
                sum += BinaryPrimitives.ReadUInt16BigEndian(ip[i..]);
            }

            sum = (sum & 0xFFFF) + (sum >> 16);
            sum += sum >> 16;
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], (ushort)~sum);
            var udp = ip[20..];
            BinaryPrimitives.WriteUInt16BigEndian(udp, packet.SourcePort);
            BinaryPrimitives.WriteUInt16BigEndian(udp[2..], packet.DestinationPort);
            BinaryPrimitives.WriteUInt16BigEndian(udp[4..], 26);
            file.Write(record);
        }
    }

    /// <summary>Ethernet/IPv6/UDP, 62 bytes. The UDP checksum is left 0: netfilter's input hook sees the packet before UDP would refuse it.</summary>
    private static void WriteV6(Stream file, Udp packet)
    {
        Span<byte> record = stackalloc byte[16 + 62];
        BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)(packet.TimeNs / 1_000_000_000));
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], (uint)(packet.TimeNs % 1_000_000_000));
        BinaryPrimitives.WriteUInt32LittleEndian(record[8..], 62);
        BinaryPrimitives.WriteUInt32LittleEndian(record[12..], 62);
        var frame = record[16..];
        ReceiverMac.CopyTo(frame);
        SenderMac.CopyTo(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], 0x86DD);
        var ip = frame[14..];
        ip[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], 8);
        ip[6] = 17;
        ip[7] = 64;
        BinaryPrimitives.WriteUInt128BigEndian(ip[8..], packet.Source);
        BinaryPrimitives.WriteUInt128BigEndian(ip[24..], ReceiverV6);
        var udp = ip[40..];
        BinaryPrimitives.WriteUInt16BigEndian(udp, packet.SourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], packet.DestinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], 8);
        file.Write(record);
    }
}
