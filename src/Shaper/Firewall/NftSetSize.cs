namespace Shaper.Firewall;

/// <summary>
/// The <c>size</c> to declare for a hash set with <c>flags timeout</c> that must hold <c>capacity</c> elements.
/// Such a set is the kernel's resizable hash (nft_set_hash.c, <c>nft_rhash_init</c>), which takes its first table
/// size from the declared size through rhashtable's <c>nelem_hint</c>, a 16-bit field: only the low 16 bits count.
/// Declared as 1,048,576 (0x100000) the hint is 0, the table starts at 64 buckets and a million inserts grow it
/// 15 times, each growth rehashing everything in it. The capacity with its low 16 bits set gives the largest hint,
/// 65,535 (a first table of 131,072 buckets): measured on this machine's kernel (6.18), a million inserts through
/// <c>nft -f</c> took 1.7–2.0 s of kernel time against 2.7–3.6 s, in three alternating runs each. The kernel then
/// allows up to 65,535 elements more than <c>capacity</c>; the daemon's own cap (<c>max_blocks</c>) stays what
/// bounds them. The larger first table costs kernel memory from the start: 100 such sets took 205 MB more slab
/// than 100 declared 1,048,576, about 2 MB a set, so only sets that may fill up are declared this way.
/// </summary>
internal static class NftSetSize
{
    /// <summary>The size to declare for <paramref name="capacity"/> elements: at least it, with the largest initial-size hint.</summary>
    public static int Declared(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        return capacity <= 0xFFFF ? capacity : capacity | 0xFFFF;
    }
}
