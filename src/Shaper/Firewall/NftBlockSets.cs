using System.Globalization;
using System.Net;
using System.Text;

namespace Shaper.Firewall;

/// <summary>
/// The block sets of the table <c>inet shaper</c> and the nft text that fills them. Blocks of different prefix
/// lengths live in different sets (<see cref="BlockSet"/>): an interval set refuses a prefix inside another
/// ("interval overlaps"), and one refused element aborts every other in its transaction; sets of one length
/// each cannot overlap, so every block keeps its own time to live and none can make another fail. A packet
/// costs one hash lookup per prefix length in use.
/// </summary>
public static class NftBlockSets
{
    /// <summary>The most blocks each block set holds: the largest <c>max_blocks</c>.</summary>
    public const int Size = 1 << 20;

    /// <summary>The host sets, always present: a kernel rule's <c>block</c> action adds to them from the packet path.</summary>
    public static readonly IReadOnlyList<BlockSet> HostSets = [new(true, 32), new(false, 128)];

    /// <summary>The set of <paramref name="kind"/> an element for <paramref name="network"/> goes into.</summary>
    public static BlockSet SetOf(IPNetwork network, string kind = BlockSet.Blocks)
    {
        var (v4, length) = Normalize(network);
        return new BlockSet(v4, length, kind);
    }

    /// <summary>The set's name for <paramref name="network"/>.</summary>
    public static string SetNameOf(IPNetwork network, string kind = BlockSet.Blocks) => SetOf(network, kind).Name;

    /// <summary>True when <paramref name="network"/> is one address (an IPv4-mapped /128 included), false for a prefix.</summary>
    public static bool IsHost(IPNetwork network) => SetOf(network).IsHosts;

    /// <summary>
    /// Writes the element key of <paramref name="network"/> (its base address, IPv4 and IPv4-mapped as 4 bytes,
    /// network order) into <paramref name="key"/>; returns its length.
    /// </summary>
    public static int WriteKey(IPNetwork network, Span<byte> key)
    {
        network.BaseAddress.TryWriteBytes(key, out var written);
        if (IsV4Mapped(key[..written]))
        {
            key[12..16].CopyTo(key);
            return 4;
        }

        return written;
    }

    /// <summary>
    /// The definition of <paramref name="set"/>, for <c>add set</c>. The host sets, which hold nearly every block
    /// (a million on a restart), are declared so that the kernel's hash starts large (<see cref="NftSetSize"/>; about
    /// 2 MB of kernel memory each, measured); prefix sets, few elements each, start small.
    /// </summary>
    public static string Definition(BlockSet set) =>
        $"{{ type {(set.V4 ? "ipv4_addr" : "ipv6_addr")}; size {(set.IsHosts ? NftSetSize.Declared(Size) : Size)}; flags timeout; }}";

    /// <summary>The rule that drops what <paramref name="set"/> holds.</summary>
    public static string Rule(BlockSet set) => set.IsHosts
        ? $"{Addr(set.V4)} saddr @{set.Name} drop"
        : $"{Addr(set.V4)} saddr & {Mask(set.V4, set.PrefixLength)} @{set.Name} drop";

    /// <summary>The sets to have: the host sets and one per prefix length in <paramref name="prefixes"/>, hosts first, then longer prefixes first.</summary>
    public static List<BlockSet> All(IEnumerable<BlockSet>? prefixes)
    {
        var all = new List<BlockSet>(HostSets);
        foreach (var set in (prefixes ?? []).Distinct().OrderBy(s => s.V4 ? 0 : 1).ThenByDescending(s => s.PrefixLength))
        {
            if (!set.IsHosts)
            {
                all.Add(set);
            }
        }

        return all;
    }

    /// <summary>
    /// One command adding every block with its time to live in milliseconds (an existing element takes the new
    /// one: the kernel updates an element's timeout when it is added again). Blocks of no time are left out.
    /// </summary>
    public static string AddElements(IEnumerable<(IPNetwork Network, TimeSpan Ttl)> blocks, string kind = BlockSet.Blocks)
    {
        var sets = new Dictionary<string, StringBuilder>(StringComparer.Ordinal);
        foreach (var (network, ttl) in blocks)
        {
            if (TimeoutMs(ttl) is not { } ms)
            {
                continue;
            }

            var name = SetNameOf(network, kind);
            if (!sets.TryGetValue(name, out var script))
            {
                script = sets[name] = new StringBuilder();
                script.Append("add element ").Append(NftScript.Table).Append(' ').Append(name).Append(" { ");
            }
            else
            {
                script.Append(", ");
            }

            script.Append(Element(network)).Append(" timeout ").Append(ms.ToString(CultureInfo.InvariantCulture)).Append("ms");
        }

        var all = new StringBuilder();
        foreach (var script in sets.Values)
        {
            all.Append(script).Append(" }\n");
        }

        return all.ToString();
    }

    /// <summary>Removes one block.</summary>
    public static string DeleteElement(IPNetwork network, string kind = BlockSet.Blocks) =>
        $"delete element {NftScript.Table} {SetNameOf(network, kind)} {{ {Element(network)} }}\n";

    /// <summary>
    /// The kernel timeout of a block of <paramref name="ttl"/>: whole milliseconds (the unit of the element's
    /// timeout), rounded up, so a block of 1 µs is a block of 1 ms; null for no time at all.
    /// </summary>
    public static ulong? TimeoutMs(TimeSpan ttl) => ttl <= TimeSpan.Zero ? null : (ulong)Math.Ceiling(ttl.TotalMilliseconds);

    /// <summary>The family (IPv4 for an IPv4-mapped network) and prefix length of <paramref name="network"/>.</summary>
    private static (bool V4, int Length) Normalize(IPNetwork network)
    {
        Span<byte> address = stackalloc byte[16];
        network.BaseAddress.TryWriteBytes(address, out var written);
        return Normalize(address[..written], network.PrefixLength);
    }

    /// <summary>
    /// The family (IPv4 for an IPv4-mapped address) and prefix length of the network of base address
    /// <paramref name="address"/> (4 or 16 bytes, network order) and <paramref name="prefixLength"/>.
    /// </summary>
    internal static (bool V4, int Length) Normalize(ReadOnlySpan<byte> address, int prefixLength) =>
        address.Length == 4 ? (true, prefixLength)
        : IsV4Mapped(address) ? (true, Math.Max(prefixLength - 96, 0))
        : (false, prefixLength);

    /// <summary>True when <paramref name="address"/> is 16 bytes of an IPv4-mapped IPv6 address (::ffff:a.b.c.d).</summary>
    internal static bool IsV4Mapped(ReadOnlySpan<byte> address) =>
        address.Length == 16 && address[10] == 0xff && address[11] == 0xff
        && System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(address) == 0 && address[8] == 0 && address[9] == 0;

    private static string Element(IPNetwork network) =>
        network.BaseAddress.IsIPv4MappedToIPv6 ? network.BaseAddress.MapToIPv4().ToString() : network.BaseAddress.ToString();

    private static string Addr(bool v4) => v4 ? "ip" : "ip6";

    private static string Mask(bool v4, int prefix)
    {
        var bytes = new byte[v4 ? 4 : 16];
        for (var i = 0; i < prefix; i++)
        {
            bytes[i / 8] |= (byte)(0x80 >> (i % 8));
        }

        return new IPAddress(bytes).ToString();
    }
}
