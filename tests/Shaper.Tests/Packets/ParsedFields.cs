using Shaper.Packets;

namespace Shaper.Tests.Packets;

/// <summary>Every field the parser reports, as one value, so that a mismatch prints both sides whole.</summary>
internal readonly record struct ParsedFields(
    ParseResult Result,
    IpFamily Family,
    byte Protocol,
    TcpFlags TcpFlags,
    bool IsLaterFragment,
    UInt128 Source,
    UInt128 Destination,
    ushort SourcePort,
    ushort DestinationPort,
    byte IcmpType,
    byte IcmpCode,
    ushort VlanId,
    int IpLength)
{
    /// <summary>The fields of what <see cref="PacketParser.Parse"/> returned.</summary>
    public static ParsedFields From(ParseResult result, in PacketMeta meta) => new(
        result,
        meta.Family,
        meta.Protocol,
        meta.TcpFlags,
        meta.IsLaterFragment,
        meta.Source,
        meta.Destination,
        meta.SourcePort,
        meta.DestinationPort,
        meta.IcmpType,
        meta.IcmpCode,
        meta.VlanId,
        meta.IpLength);

    /// <summary>A frame that is not IP: every field zero.</summary>
    public static ParsedFields NotIp => new() { Result = ParseResult.NotIp };
}
