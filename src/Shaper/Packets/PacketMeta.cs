using System.Runtime.InteropServices;

namespace Shaper.Packets;

/// <summary>
/// The header fields of one packet the engine matches and keys on, filled by <c>PacketParser</c> from a
/// <see cref="ReadOnlySpan{T}"/> of the captured frame without allocating. IPv4 addresses sit in the low
/// 32 bits of <see cref="Source"/>/<see cref="Destination"/> in host byte order (198.18.0.1 is 0xC6120001);
/// IPv6 addresses are the big-endian 128-bit number. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is
/// reported as IPv4.
/// </summary>
[StructLayout(LayoutKind.Auto)]
public struct PacketMeta
{
    /// <summary>
    /// Timestamp in nanoseconds: the capture's own for replay (Unix time for pcaps; the replay clock for CSV), the
    /// monotonic clock for live capture (see <c>CaptureClock</c>), so a wall-clock step does not reach a limiter.
    /// </summary>
    public long TimestampNs;

    /// <summary>IPv4 or IPv6 (of the addresses, after mapping ::ffff:0:0/96 to IPv4).</summary>
    public IpFamily Family;

    /// <summary>The transport protocol number after IPv6 extension headers (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6).</summary>
    public byte Protocol;

    /// <summary>TCP flags; 0 for other protocols.</summary>
    public TcpFlags TcpFlags;

    /// <summary>True for a fragment other than the first: it carries no transport header, so no ports.</summary>
    public bool IsLaterFragment;

    /// <summary>Source address (see the type's remarks for the encoding).</summary>
    public UInt128 Source;

    /// <summary>Destination address.</summary>
    public UInt128 Destination;

    /// <summary>Source port for TCP and UDP; 0 otherwise.</summary>
    public ushort SourcePort;

    /// <summary>Destination port for TCP and UDP; 0 otherwise.</summary>
    public ushort DestinationPort;

    /// <summary>ICMP or ICMPv6 type; 0 otherwise.</summary>
    public byte IcmpType;

    /// <summary>ICMP or ICMPv6 code; 0 otherwise.</summary>
    public byte IcmpCode;

    /// <summary>The innermost 802.1Q VLAN id, 0 when untagged.</summary>
    public ushort VlanId;

    /// <summary>
    /// The index of the interface the packet arrived on: the capture's interface, or for the <c>any</c> capture the one
    /// its cooked (SLL2) header names; in replay, the CSV <c>iface</c> column's name numbered by the replay; 0 when unknown.
    /// </summary>
    public int InterfaceIndex;

    /// <summary>The IP packet's length from its header (IPv4 total length, IPv6 payload length + 40): the byte cost.</summary>
    public int IpLength;

    /// <summary>The IPv4 source address, valid when <see cref="Family"/> is IPv4.</summary>
    public readonly uint Source4 => (uint)Source;

    /// <summary>The IPv4 destination address, valid when <see cref="Family"/> is IPv4.</summary>
    public readonly uint Destination4 => (uint)Destination;
}
