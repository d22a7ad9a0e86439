using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Shaper.Interop;

/// <summary>
/// Asks the kernel to back a large, long-lived array with transparent huge pages (<c>madvise(MADV_HUGEPAGE)</c>,
/// which takes effect where <c>/sys/kernel/mm/transparent_hugepage/enabled</c> is <c>madvise</c> or <c>always</c>).
/// A key table of megabytes read at random costs a TLB miss per lookup on 4 KB pages, and under virtualization each
/// miss walks two page tables; on 2 MB pages the whole table fits the TLB. Only a hint: where the kernel has no huge
/// pages, or the array's memory is already backed, nothing changes.
/// </summary>
internal static unsafe class HugePages
{
    /// <summary>The size of a huge page on x86-64 and arm64 with 4 KB base pages.</summary>
    public const int Size = 2 << 20;

    private const int MadvHugePage = 14;

    /// <summary>
    /// A pinned array of <paramref name="length"/> elements, its contents not cleared, advised for huge pages when it
    /// spans at least two of them (the whole huge pages inside it; its first and last partial ones stay as they are).
    /// Pinned: the advice is about addresses, so the array must not move.
    /// </summary>
    public static T[] Allocate<T>(int length)
        where T : unmanaged
    {
        var bytes = (long)length * sizeof(T);
        if (bytes < 2L * Size || !OperatingSystem.IsLinux())
        {
            return GC.AllocateUninitializedArray<T>(length);
        }

        var array = GC.AllocateUninitializedArray<T>(length, pinned: true);
        var start = (nuint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        var first = (start + Size - 1) & ~(nuint)(Size - 1);
        var end = (start + (nuint)bytes) & ~(nuint)(Size - 1);
        if (end > first)
        {
            _ = LibC.Madvise((void*)first, end - first, MadvHugePage);
        }

        return array;
    }
}
