using System.Runtime.CompilerServices;

namespace Shaper.Limiting;

/// <summary>An IPv4 address and a port as a limiter key (<c>per = "src+dport"</c>): 8 bytes.</summary>
public readonly record struct V4PortKey(uint Address, ushort Port) : ILimiterKey<V4PortKey>
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Hash(in V4PortKey key) =>
        (uint)(((((ulong)key.Address << 16) | key.Port) * 0x9E3779B97F4A7C15UL) >> 32);

    /// <inheritdoc />
    public override string ToString() => $"{new V4Key(Address)}:{Port}";
}
