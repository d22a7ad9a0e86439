using System.Buffers.Binary;

namespace Shaper.Netlink;

/// <summary>Walks a run of attributes; stops at the end or at one whose length does not fit. Allocates nothing.</summary>
internal ref struct NetlinkAttributeEnumerator
{
    private readonly ReadOnlySpan<byte> _data;
    private int _next;
    private ushort _type;
    private int _start;
    private int _length;

    public NetlinkAttributeEnumerator(ReadOnlySpan<byte> data) => _data = data;

    public readonly NetlinkAttribute Current => new(_type, _data.Slice(_start, _length));

    public readonly NetlinkAttributeEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_next + Nl.AttributeHeaderLength > _data.Length)
        {
            return false;
        }

        var length = BinaryPrimitives.ReadUInt16LittleEndian(_data[_next..]);
        if (length < Nl.AttributeHeaderLength || _next + length > _data.Length)
        {
            return false;
        }

        _type = BinaryPrimitives.ReadUInt16LittleEndian(_data[(_next + 2)..]);
        _start = _next + Nl.AttributeHeaderLength;
        _length = length - Nl.AttributeHeaderLength;
        _next += Nl.Align(length);
        return true;
    }

    /// <summary>The first attribute of <paramref name="type"/>, if any.</summary>
    public bool TryFind(ushort type, out NetlinkAttribute attribute)
    {
        while (MoveNext())
        {
            if (Current.Type == type)
            {
                attribute = Current;
                return true;
            }
        }

        attribute = default;
        return false;
    }
}
