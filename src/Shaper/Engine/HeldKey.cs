using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
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

    /// <summary>
    /// Field by field. Written out, as <see cref="GetHashCode"/> is, rather than the record's, which goes through
    /// <see cref="EqualityComparer{T}.Default"/> for every field: generic code that ReadyToRun cannot precompile, so
    /// it ran unoptimized where a table first met a key (the engine's block table hashes with <see cref="GetHashCode"/>
    /// and compares its own flat copy of the fields; the fleet's tables use both).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Equals(HeldKey other) =>
        Address == other.Address && PrefixLength == other.PrefixLength && Port == other.Port && Kind == other.Kind && Family == other.Family;

    /// <summary>
    /// The address's halves and the other fields through a keyed mix (MurmurHash3's 64-bit finalizer, public domain,
    /// after each is folded in with this process's random seed), so that no one who picks the source addresses can
    /// make keys collide in a table, as the record's hash (seeded, through <see cref="HashCode"/>) also ensured.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override int GetHashCode()
    {
        var hash = Mix((ulong)Address ^ LowSeed);
        hash = Mix(hash ^ (ulong)(Address >> 64) ^ HighSeed);
        hash = Mix(hash ^ (((ulong)(uint)PrefixLength << 32) | ((ulong)Port << 16) | ((ulong)(byte)Kind << 8) | (byte)Family));
        return (int)(hash ^ (hash >> 32));
    }

    private static readonly ulong LowSeed = RandomSeed();
    private static readonly ulong HighSeed = RandomSeed();

    private static ulong RandomSeed() => BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(sizeof(ulong)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong x)
    {
        x = (x ^ (x >> 33)) * 0xFF51AFD7ED558CCDUL;
        x = (x ^ (x >> 33)) * 0xC4CEB9FE1A85EC53UL;
        return x ^ (x >> 33);
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
