using System.Buffers.Binary;

namespace Shaper.Netlink;

/// <summary>
/// One received netlink message, viewed in place: its header fields and, for nfnetlink messages, the address
/// family, resource id and attributes after the 4-byte nfnetlink header.
/// </summary>
internal readonly ref struct NetlinkMessage
{
    /// <summary>A view of <paramref name="bytes"/>, which hold one whole message (header included).</summary>
    public NetlinkMessage(ReadOnlySpan<byte> bytes) => Bytes = bytes;

    /// <summary>The whole message, header included.</summary>
    public ReadOnlySpan<byte> Bytes { get; }

    public ushort Type => BinaryPrimitives.ReadUInt16LittleEndian(Bytes[4..]);

    public ushort Flags => BinaryPrimitives.ReadUInt16LittleEndian(Bytes[6..]);

    public uint Sequence => BinaryPrimitives.ReadUInt32LittleEndian(Bytes[8..]);

    public uint PortId => BinaryPrimitives.ReadUInt32LittleEndian(Bytes[12..]);

    /// <summary>The nfnetlink subsystem (high byte of the type) for nfnetlink messages.</summary>
    public byte Subsystem => (byte)(Type >> 8);

    /// <summary>The nfnetlink message type within its subsystem (low byte).</summary>
    public byte Command => (byte)Type;

    /// <summary>What follows the netlink header.</summary>
    public ReadOnlySpan<byte> Payload => Bytes[Nl.HeaderLength..];

    /// <summary>The nfnetlink header's address family.</summary>
    public byte Family => Bytes.Length >= Nl.HeaderLength + Nl.NfgenLength ? Bytes[Nl.HeaderLength] : (byte)0;

    /// <summary>The nfnetlink header's resource id (network order on the wire; the generation id in a NEWGEN).</summary>
    public ushort ResourceId => Bytes.Length >= Nl.HeaderLength + Nl.NfgenLength ? BinaryPrimitives.ReadUInt16BigEndian(Bytes[(Nl.HeaderLength + 2)..]) : (ushort)0;

    /// <summary>The attributes after the nfnetlink header.</summary>
    public NetlinkAttributeEnumerator Attributes =>
        new(Bytes.Length > Nl.HeaderLength + Nl.NfgenLength ? Bytes[(Nl.HeaderLength + Nl.NfgenLength)..] : default);

    /// <summary>
    /// For an NLMSG_ERROR message: true, and the errno it carries (0 is an acknowledgement) and the sequence
    /// number of the request it answers; false for any other message or a truncated one.
    /// </summary>
    public bool TryGetError(out int errno, out uint requestSequence)
    {
        errno = 0;
        requestSequence = 0;
        if (Type != Nl.Error || Bytes.Length < Nl.HeaderLength + 4)
        {
            return false;
        }

        errno = -BinaryPrimitives.ReadInt32LittleEndian(Payload);
        requestSequence = Bytes.Length >= Nl.HeaderLength + 4 + Nl.HeaderLength ? BinaryPrimitives.ReadUInt32LittleEndian(Payload[(4 + 8)..]) : Sequence;
        return true;
    }
}
