using System.Buffers.Binary;
using System.Net;
using System.Runtime.CompilerServices;

namespace Shaper.Limiting;

/// <summary>An IPv4 address or prefix (host bits already cleared) as a limiter key: 4 bytes.</summary>
/// <param name="Address">The address in host byte order (198.18.0.1 is 0xC6120001).</param>
public readonly record struct V4Key(uint Address) : ILimiterKey<V4Key>
{
    /// <summary>The key of <paramref name="address"/>, which must be IPv4.</summary>
    public static V4Key From(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[4];
        if (!address.TryWriteBytes(bytes, out var written) || written != 4)
        {
            throw new ArgumentException("not an IPv4 address", nameof(address));
        }

        return new V4Key(BinaryPrimitives.ReadUInt32BigEndian(bytes));
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Hash(in V4Key key) => (uint)((key.Address * 0x9E3779B97F4A7C15UL) >> 32);

    /// <inheritdoc />
    public override string ToString() =>
        $"{Address >> 24}.{(Address >> 16) & 0xFF}.{(Address >> 8) & 0xFF}.{Address & 0xFF}";
}
