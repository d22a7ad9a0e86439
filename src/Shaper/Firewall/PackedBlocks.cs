using System.Collections;
using System.Net;
using System.Runtime.CompilerServices;

namespace Shaper.Firewall;

/// <summary>
/// Blocks in the form the kernel takes them: each one's address bytes (4 or 16, network order), prefix length and
/// time to live, in flat arrays. A restore reads a million blocks from the store and sends them to the kernel as
/// they are read; as <c>(IPNetwork, TimeSpan)</c> pairs each would be an <see cref="IPAddress"/> and an
/// <see cref="IPNetwork"/> made from the row's bytes and turned back into bytes for netlink, and the IPv6 network's
/// checks run code the runtime compiles while the restore runs. As a list it makes those pairs on demand, for the
/// paths that need them (a refused batch handed to the batcher, nft text when netlink fails). Not thread-safe.
/// </summary>
public sealed class PackedBlocks : IReadOnlyList<(IPNetwork Network, TimeSpan Ttl)>
{
    private const int AddressBytes = 16;

    private byte[] _addresses; // AddressBytes a block, the first _lengths[i] of them used
    private byte[] _lengths;
    private byte[] _prefixes;
    private long[] _ttlTicks;

    /// <summary>An empty list with room for <paramref name="capacity"/> blocks before it grows.</summary>
    public PackedBlocks(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        _addresses = new byte[capacity * AddressBytes];
        _lengths = new byte[capacity];
        _prefixes = new byte[capacity];
        _ttlTicks = new long[capacity];
    }

    /// <inheritdoc/>
    public int Count { get; private set; }

    /// <summary>The block at <paramref name="index"/>, as a network (made now) and its time to live.</summary>
    public (IPNetwork Network, TimeSpan Ttl) this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Count, nameof(index));
            return (new IPNetwork(new IPAddress(Address(index)), _prefixes[index]), Ttl(index));
        }
    }

    /// <summary>The list of <paramref name="blocks"/>: itself when packed already, else a packed copy.</summary>
    public static PackedBlocks Of(IReadOnlyList<(IPNetwork Network, TimeSpan Ttl)> blocks)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        if (blocks is PackedBlocks packed)
        {
            return packed;
        }

        var result = new PackedBlocks(blocks.Count);
        for (var i = 0; i < blocks.Count; i++)
        {
            result.Add(blocks[i].Network, blocks[i].Ttl);
        }

        return result;
    }

    /// <summary>
    /// Adds the block of <paramref name="address"/> (4 or 16 bytes, network order, host bits clear) and
    /// <paramref name="prefixLength"/>; the caller checks both, as the store does for each row it reads.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(ReadOnlySpan<byte> address, int prefixLength, TimeSpan ttl)
    {
        if (address.Length is not (4 or AddressBytes) || (uint)prefixLength > (uint)address.Length * 8)
        {
            throw new ArgumentException($"an address of {address.Length} bytes with a prefix of {prefixLength} bits is no block");
        }

        if (Count == _lengths.Length)
        {
            Grow();
        }

        address.CopyTo(_addresses.AsSpan(Count * AddressBytes));
        _lengths[Count] = (byte)address.Length;
        _prefixes[Count] = (byte)prefixLength;
        _ttlTicks[Count] = ttl.Ticks;
        Count++;
    }

    /// <summary>Adds the block of <paramref name="network"/>.</summary>
    public void Add(IPNetwork network, TimeSpan ttl)
    {
        Span<byte> address = stackalloc byte[AddressBytes];
        network.BaseAddress.TryWriteBytes(address, out var written);
        Add(address[..written], network.PrefixLength, ttl);
    }

    /// <summary>Empties the list, keeping its room.</summary>
    public void Clear() => Count = 0;

    /// <summary>Makes this list a copy of <paramref name="source"/>, growing if it has to.</summary>
    public void CopyFrom(PackedBlocks source)
    {
        ArgumentNullException.ThrowIfNull(source);
        Count = 0;
        while (_lengths.Length < source.Count)
        {
            Grow();
        }

        source._addresses.AsSpan(0, source.Count * AddressBytes).CopyTo(_addresses);
        source._lengths.AsSpan(0, source.Count).CopyTo(_lengths);
        source._prefixes.AsSpan(0, source.Count).CopyTo(_prefixes);
        source._ttlTicks.AsSpan(0, source.Count).CopyTo(_ttlTicks);
        Count = source.Count;
    }

    /// <summary>The prefix sets (of kind <see cref="BlockSet.Blocks"/>) the blocks need, each once; none for hosts.</summary>
    public List<BlockSet> PrefixSets()
    {
        var sets = new List<BlockSet>();
        for (var i = 0; i < Count; i++)
        {
            if (_prefixes[i] != _lengths[i] * 8 && SetOf(i) is var set && !sets.Contains(set))
            {
                sets.Add(set);
            }
        }

        return sets;
    }

    /// <inheritdoc/>
    public IEnumerator<(IPNetwork Network, TimeSpan Ttl)> GetEnumerator()
    {
        for (var i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The time to live of the block at <paramref name="index"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal TimeSpan Ttl(int index) => new(_ttlTicks[index]);

    /// <summary>The element key of the block at <paramref name="index"/>, as <see cref="NftBlockSets.WriteKey"/> writes it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ReadOnlySpan<byte> Key(int index)
    {
        var address = Address(index);
        return NftBlockSets.IsV4Mapped(address) ? address[12..] : address;
    }

    /// <summary>The set of <paramref name="kind"/> the block at <paramref name="index"/> goes into, as <see cref="NftBlockSets.SetOf"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal BlockSet SetOf(int index, string kind = BlockSet.Blocks)
    {
        var (v4, length) = NftBlockSets.Normalize(Address(index), _prefixes[index]);
        return new BlockSet(v4, length, kind);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ReadOnlySpan<byte> Address(int index) => _addresses.AsSpan(index * AddressBytes, _lengths[index]);

    private void Grow()
    {
        var capacity = Math.Max(16, _lengths.Length * 2);
        Array.Resize(ref _addresses, capacity * AddressBytes);
        Array.Resize(ref _lengths, capacity);
        Array.Resize(ref _prefixes, capacity);
        Array.Resize(ref _ttlTicks, capacity);
    }
}
