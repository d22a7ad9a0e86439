using System.Buffers.Binary;
using System.Text;

namespace Shaper.Netlink;

/// <summary>One attribute, viewed in place: its type (flags stripped), whether it is nested, and its value.</summary>
internal readonly ref struct NetlinkAttribute
{
    public NetlinkAttribute(ushort rawType, ReadOnlySpan<byte> value)
    {
        RawType = rawType;
        Value = value;
    }

    /// <summary>The type as sent, flags included.</summary>
    public ushort RawType { get; }

    /// <summary>The type without the nested and byte-order flags.</summary>
    public ushort Type => (ushort)(RawType & Nl.TypeMask);

    public bool IsNested => (RawType & Nl.Nested) != 0;

    public ReadOnlySpan<byte> Value { get; }

    /// <summary>The attributes inside a nested one.</summary>
    public NetlinkAttributeEnumerator Nested => new(Value);

    /// <summary>A 32-bit value in network order; 0 when the value is not 4 bytes.</summary>
    public uint UInt32BigEndian => Value.Length == 4 ? BinaryPrimitives.ReadUInt32BigEndian(Value) : 0;

    /// <summary>A 64-bit value in network order; 0 when the value is not 8 bytes.</summary>
    public ulong UInt64BigEndian => Value.Length == 8 ? BinaryPrimitives.ReadUInt64BigEndian(Value) : 0;

    /// <summary>A NUL-terminated string value.</summary>
    public string AsString() => Encoding.ASCII.GetString(Value.TrimEnd((byte)0));

    /// <summary>True when the value is the NUL-terminated <paramref name="text"/>; allocates nothing.</summary>
    public bool IsString(string text)
    {
        var value = Value.TrimEnd((byte)0);
        if (value.Length != text.Length)
        {
            return false;
        }

        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] != text[i])
            {
                return false;
            }
        }

        return true;
    }
}
