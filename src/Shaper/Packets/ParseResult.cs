namespace Shaper.Packets;

/// <summary>What the parser made of a frame.</summary>
public enum ParseResult : byte
{
    /// <summary>An IP packet; every field of <see cref="PacketMeta"/> is set.</summary>
    Ok = 0,

    /// <summary>Not IP (ARP, LLDP…): skipped, not an error.</summary>
    NotIp = 1,

    /// <summary>The frame ends before a header it announces.</summary>
    Truncated = 2,

    /// <summary>A header is inconsistent (bad version, header length, length field).</summary>
    Malformed = 3,
}
