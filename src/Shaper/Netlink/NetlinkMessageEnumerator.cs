using System.Buffers.Binary;

namespace Shaper.Netlink;

/// <summary>
/// Walks the messages in one received datagram (<c>foreach (var m in new NetlinkMessageEnumerator(buffer))</c>);
/// stops at the end or at a message whose length does not fit, and then says so in <see cref="Malformed"/>.
/// Allocates nothing.
/// </summary>
internal ref struct NetlinkMessageEnumerator
{
    private readonly ReadOnlySpan<byte> _data;
    private int _next;
    private int _start;
    private int _length;

    /// <summary>An enumerator over <paramref name="data"/>, the bytes one receive returned.</summary>
    public NetlinkMessageEnumerator(ReadOnlySpan<byte> data) => _data = data;

    /// <summary>True when the walk stopped at bytes that are not a whole message.</summary>
    public bool Malformed { get; private set; }

    public readonly NetlinkMessage Current => new(_data.Slice(_start, _length));

    public readonly NetlinkMessageEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_next + Nl.HeaderLength > _data.Length)
        {
            Malformed = _next < _data.Length;
            return false;
        }

        var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(_data[_next..]);
        if (length < Nl.HeaderLength || _next + length > _data.Length)
        {
            Malformed = true;
            return false;
        }

        _start = _next;
        _length = length;
        _next += Nl.Align(length);
        return true;
    }
}
