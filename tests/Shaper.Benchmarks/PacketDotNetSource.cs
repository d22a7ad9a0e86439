using System.Buffers.Binary;
using PacketDotNet;
using SharpPcap;
using SharpPcap.LibPcap;
using Shaper.Packets;
using Shaper.Replay;

namespace Shaper.Benchmarks;

/// <summary>The baseline replay source: SharpPcap reads, PacketDotNet decodes (GetPacket, ParsePacket, Extract).</summary>
internal sealed class PacketDotNetSource : IReplaySource
{
    private readonly CaptureFileReaderDevice _device;

    public PacketDotNetSource(string path)
    {
        _device = new CaptureFileReaderDevice(path);
        _device.Open();
    }

    public ParseCounters Counters { get; } = new();

    public bool TryRead(out PacketMeta packet)
    {
        while (_device.GetNextPacket(out var capture) == GetPacketStatus.PacketRead)
        {
            var raw = capture.GetPacket();
            var parsed = Packet.ParsePacket(raw.LinkLayerType, raw.Data);
            packet = default;
            if (parsed.Extract<IPv4Packet>() is not { } ip)
            {
                Counters.Record(ParseResult.NotIp);
                continue;
            }

            packet.Family = IpFamily.V4;
            packet.Source = BinaryPrimitives.ReadUInt32BigEndian(ip.SourceAddress.GetAddressBytes());
            packet.Destination = BinaryPrimitives.ReadUInt32BigEndian(ip.DestinationAddress.GetAddressBytes());
            packet.Protocol = (byte)ip.Protocol;
            packet.IpLength = ip.TotalLength;
            if (parsed.Extract<UdpPacket>() is { } udp)
            {
                packet.SourcePort = udp.SourcePort;
                packet.DestinationPort = udp.DestinationPort;
            }
            else if (parsed.Extract<TcpPacket>() is { } tcp)
            {
                packet.SourcePort = tcp.SourcePort;
                packet.DestinationPort = tcp.DestinationPort;
                packet.TcpFlags = (TcpFlags)tcp.Flags;
            }

            packet.TimestampNs = ((long)raw.Timeval.Seconds * 1_000_000_000L) + ((long)raw.Timeval.MicroSeconds * 1000L);
            Counters.Record(ParseResult.Ok);
            return true;
        }

        packet = default;
        return false;
    }

    public void Dispose() => _device.Dispose();
}
