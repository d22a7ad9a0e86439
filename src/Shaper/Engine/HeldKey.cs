using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using Shaper.Packets;
using Shaper.Rules;

namespace Shaper.Engine;

/// <summary>
/// A rule's key as the kernel sets hold it: the family, the address (host bits cleared to the rule's prefix; 0 for
/// <c>per = "rule"</c>), that prefix length and, for <c>per = "src+dport"</c>, the destination port.
/// The same key the rule's limiter counts, so a key's hold and its counters meet.
/// </summary>
/// <param name="Family">IPv4 or IPv6 (IPv4 for <c>per = "rule"</c>, whose one key covers both).</param>
/// <param name="Address">The address in <see cref="PacketMeta"/> encoding, masked to <paramref name="PrefixLength"/>.</param>
/// <param name="PrefixLength">The prefix the key covers (32 or 128 for one address, 0 for the whole rule).</param>
/// <param name="Port">The destination port of a <c>src+dport</c> key, else 0.</param>
/// <param name="Kind">What the rule's limit is kept per.</param>
public readonly record struct HeldKey(IpFamily Family, UInt128 Address, int PrefixLength, ushort Port, KeyKind Kind)
{
    /// <summary>The key of <paramref name="packet"/> under <paramref name="per"/>, as the rule's limiter derives it.</summary>
    public static HeldKey Of(KeyScope per, in PacketMeta packet)
    {
        if (per.Kind == KeyKind.Rule)
        {
            return new HeldKey(IpFamily.V4, 0, 0, 0, KeyKind.Rule);
        }

        var address = per.Kind == KeyKind.Destination ? packet.Destination : packet.Source;
        var port = per.Kind == KeyKind.SourceAndDport ? packet.DestinationPort : (ushort)0;
        return packet.Family == IpFamily.V4
            ? new HeldKey(IpFamily.V4, address & AddressSet.Mask4(per.V4Prefix), per.V4Prefix, port, per.Kind)
            : new HeldKey(IpFamily.V6, address & AddressSet.Mask6(per.V6Prefix), per.V6Prefix, port, per.Kind);
    }

    /// <summary>The address as an <see cref="IPAddress"/>.</summary>
    public IPAddress ToAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        if (Family == IpFamily.V4)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)Address);
            return new IPAddress(bytes[..4]);
        }

        BinaryPrimitives.WriteUInt128BigEndian(bytes, Address);
        return new IPAddress(bytes);
    }

    /// <summary>The key as <c>shaperctl counters</c> shows it: <c>198.18.1.0/24</c>, <c>198.18.1.1:80</c>, <c>[2001:db8::1]:80</c> or <c>rule</c>.</summary>
    public override string ToString()
    {
        if (Kind == KeyKind.Rule)
        {
            return "rule";
        }

        var address = ToAddress().ToString();
        if (Kind == KeyKind.SourceAndDport)
        {
            return Family == IpFamily.V4
                ? string.Create(CultureInfo.InvariantCulture, $"{address}:{Port}")
                : string.Create(CultureInfo.InvariantCulture, $"[{address}]:{Port}");
        }

        return PrefixLength < (Family == IpFamily.V4 ? 32 : 128)
            ? string.Create(CultureInfo.InvariantCulture, $"{address}/{PrefixLength}")
            : address;
    }
}
