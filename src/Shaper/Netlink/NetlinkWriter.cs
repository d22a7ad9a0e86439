using System.Buffers.Binary;
using System.Text;

namespace Shaper.Netlink;

/// <summary>
/// Builds netlink messages into one growable buffer, ready for a single send: the 16-byte message header
/// (host byte order), the 4-byte nfnetlink header, attributes (type-length-value, padded to 4 bytes) and nested
/// attributes, and the nfnetlink batch begin and end markers that make the messages between them one kernel
/// transaction. The layout is the kernel's <c>include/uapi/linux/netlink.h</c> and
/// <c>include/uapi/linux/netfilter/nfnetlink.h</c>. Not thread-safe: one writer per socket user.
/// </summary>
internal sealed class NetlinkWriter
{
    private byte[] _buffer;
    private int _length;

    /// <summary>A writer with room for <paramref name="capacity"/> bytes before it grows.</summary>
    public NetlinkWriter(int capacity = 1 << 16) => _buffer = new byte[capacity];

    /// <summary>Bytes written so far.</summary>
    public int Length => _length;

    /// <summary>The sequence number of the last message begun.</summary>
    public uint Sequence { get; private set; }

    /// <summary>What has been written, for the send.</summary>
    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

    /// <summary>Forgets what was written; sequence numbers go on counting.</summary>
    public void Clear() => _length = 0;

    /// <summary>
    /// Begins a message: the netlink header (its length filled in by <see cref="EndMessage"/>) and the nfnetlink
    /// header (address family, version 0, resource id in network order). Returns where it starts.
    /// </summary>
    public int BeginMessage(ushort type, ushort flags, byte family = 0, ushort resourceId = 0)
    {
        var start = _length;
        var header = Reserve(Nl.HeaderLength + Nl.NfgenLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header, Nl.HeaderLength + Nl.NfgenLength);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], type);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], ++Sequence);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], 0); // port id 0: the kernel fills it in
        header[16] = family;
        header[17] = 0; // NFNETLINK_V0
        BinaryPrimitives.WriteUInt16BigEndian(header[18..], resourceId);
        return start;
    }

    /// <summary>Ends the message begun at <paramref name="start"/>: writes its length.</summary>
    public void EndMessage(int start) => BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(start), (uint)(_length - start));

    /// <summary>A whole message with no attributes (a batch marker, a plain request).</summary>
    public void Message(ushort type, ushort flags, byte family = 0, ushort resourceId = 0) => EndMessage(BeginMessage(type, flags, family, resourceId));

    /// <summary>Begins an nfnetlink batch for <paramref name="subsystem"/>: what follows up to <see cref="EndBatch"/> is one transaction.</summary>
    public void BeginBatch(ushort subsystem) => Message(Nl.BatchBegin, Nl.Request, 0, subsystem);

    /// <summary>
    /// Begins a batch that the kernel commits only while the ruleset's generation is still <paramref name="generation"/>
    /// (<c>NFNL_BATCH_GENID</c>): checked under nf_tables' commit mutex, so no other transaction can come between;
    /// otherwise it refuses the whole batch with ERESTART, answered to the begin message.
    /// </summary>
    public void BeginBatch(ushort subsystem, uint generation)
    {
        var start = BeginMessage(Nl.BatchBegin, Nl.Request, 0, subsystem);
        UInt32BigEndian(Nl.BatchGenId, generation);
        EndMessage(start);
    }

    /// <summary>Ends the batch: the kernel commits it, or aborts all of it when one message fails.</summary>
    public void EndBatch(ushort subsystem) => Message(Nl.BatchEnd, Nl.Request, 0, subsystem);

    /// <summary>An attribute of <paramref name="size"/> bytes, zeroed with its padding; the caller fills the returned span.</summary>
    public Span<byte> Attribute(ushort type, int size)
    {
        if (Nl.AttributeHeaderLength + size > ushort.MaxValue)
        {
            throw new InvalidOperationException($"a netlink attribute of {size} bytes exceeds the 16-bit length");
        }

        var at = _length;
        Reserve(Nl.Align(Nl.AttributeHeaderLength + size)).Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(at), (ushort)(Nl.AttributeHeaderLength + size));
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(at + 2), type);
        return _buffer.AsSpan(at + Nl.AttributeHeaderLength, size);
    }

    /// <summary>A NUL-terminated ASCII string attribute (netfilter names are ASCII).</summary>
    public void String(ushort type, string value)
    {
        var bytes = Attribute(type, Encoding.ASCII.GetByteCount(value) + 1);
        Encoding.ASCII.GetBytes(value, bytes);
    }

    /// <summary>A 32-bit attribute in network byte order (nftables' convention).</summary>
    public void UInt32BigEndian(ushort type, uint value) => BinaryPrimitives.WriteUInt32BigEndian(Attribute(type, 4), value);

    /// <summary>A 64-bit attribute in network byte order.</summary>
    public void UInt64BigEndian(ushort type, ulong value) => BinaryPrimitives.WriteUInt64BigEndian(Attribute(type, 8), value);

    /// <summary>An attribute holding <paramref name="value"/> as it is.</summary>
    public void Bytes(ushort type, ReadOnlySpan<byte> value) => value.CopyTo(Attribute(type, value.Length));

    /// <summary>Begins a nested attribute (the nested flag set); returns where it starts, for <see cref="EndNest"/>.</summary>
    public int BeginNest(ushort type)
    {
        var at = _length;
        var header = Reserve(Nl.AttributeHeaderLength);
        BinaryPrimitives.WriteUInt16LittleEndian(header[2..], (ushort)(type | Nl.Nested));
        return at;
    }

    /// <summary>Ends the nested attribute begun at <paramref name="start"/>: writes its length.</summary>
    public void EndNest(int start)
    {
        var length = _length - start;
        if (length > ushort.MaxValue)
        {
            throw new InvalidOperationException($"a nested netlink attribute of {length} bytes exceeds the 16-bit length");
        }

        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(start), (ushort)length);
    }

    private Span<byte> Reserve(int size)
    {
        if (_length + size > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + size));
        }

        var span = _buffer.AsSpan(_length, size);
        _length += size;
        return span;
    }
}
