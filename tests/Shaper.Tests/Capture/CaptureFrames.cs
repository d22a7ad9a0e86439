using System.Buffers.Binary;

namespace Shaper.Tests.Capture;

/// <summary>Frames as a capture lane reads them, for the tests that feed one directly.</summary>
internal static class CaptureFrames
{
    /// <summary>A 60-byte Ethernet frame: IPv4 UDP from <paramref name="source"/>:40000 to 198.18.0.2:9000.</summary>
    public static byte[] Udp(uint source)
    {
        var frame = new byte[60];
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x0800);
        var ip = frame.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], 46);
        ip[8] = 64;
        ip[9] = 17;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], source);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0xC6120002);
        BinaryPrimitives.WriteUInt16BigEndian(ip[20..], 40000);
        BinaryPrimitives.WriteUInt16BigEndian(ip[22..], 9000);
        BinaryPrimitives.WriteUInt16BigEndian(ip[24..], 26);
        return frame;
    }
}
