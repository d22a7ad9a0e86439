using System.Buffers.Binary;
using System.Net;
using System.Runtime.CompilerServices;

namespace Shaper.Limiting;

/// <summary>An IPv6 address or prefix (host bits already cleared) as a limiter key, with an optional port: 24 bytes.</summary>
/// <param name="Address">The address as a big-endian 128-bit number (2001:db8:: is 0x20010DB8_0000…).</param>
/// <param name="Port">The port for <c>per = "src+dport"</c>, else 0.</param>
public readonly record struct V6Key(UInt128 Address, ushort Port = 0) : ILimiterKey<V6Key>
{
    /// <summary>The key of <paramref name="address"/>, which must be IPv6.</summary>
    public static V6Key From(IPAddress address, ushort port = 0)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out var written) || written != 16)
        {
            throw new ArgumentException("not an IPv6 address", nameof(address));
        }

        return new V6Key(BinaryPrimitives.ReadUInt128BigEndian(bytes), port);
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Hash(in V6Key key)
    {
        var hi = (ulong)(key.Address >> 64);
        var lo = (ulong)key.Address;
        var h = (hi * 0x9E3779B97F4A7C15UL) ^ ((lo ^ key.Port) * 0xC2B2AE3D27D4EB4FUL);
        return (uint)((h ^ (h >> 29)) * 0x165667B19E3779F9UL >> 32);
    }

    /// <inheritdoc />
    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, Address);
        var text = new IPAddress(bytes).ToString();
        return Port == 0 ? text : $"[{text}]:{Port}";
    }
}
