using System.Net;

namespace Shaper.Firewall;

/// <summary>
/// Where the daemon keeps its blocks with their absolute expiry, so that they survive a restart and the kernel's
/// sets can be rebuilt after a flush. The block service records a block here only once the kernel holds it, and
/// takes it out only once the kernel no longer does, so the two never disagree; it acknowledges a block only once
/// <see cref="Commit"/> says it is on disk. At most <see cref="MaxBlocks"/> are kept. Thread-safe.
/// </summary>
public interface IBlockStore : IDisposable
{
    /// <summary>Blocks recorded (on disk or in the backlog).</summary>
    int Count { get; }

    /// <summary>The most blocks kept; more are refused.</summary>
    int MaxBlocks { get; }

    /// <summary>Writes waiting in memory because the disk refused them (retried with backoff).</summary>
    int Backlog { get; }

    /// <summary>Why the last write failed, while the backlog is not empty.</summary>
    string? LastError { get; }

    /// <summary>Why blocks are kept in memory only (no or an unsafe state_dir); null when they are saved.</summary>
    string? NotSaved { get; }

    /// <summary>Opens what an earlier run left, handing its blocks in force to <paramref name="restore"/> a few thousand at a time.</summary>
    void Open(Action<PackedBlocks>? restore = null);

    /// <summary>Admits one new block under <see cref="MaxBlocks"/> (exact: a block already recorded is no new one); <see cref="Release"/> follows.</summary>
    bool TryReserve(IPNetwork network, bool exact);

    /// <summary>Returns admissions from <see cref="TryReserve"/> once their blocks are committed or refused.</summary>
    void Release(int count);

    /// <summary>
    /// Records blocks, each replacing any earlier one of its network, in one transaction, with <paramref name="mark"/>
    /// (the kernel state the file then vouches for) when given; null once on disk, else why not (they wait in the
    /// backlog). <paramref name="sources"/>: each block's source by index (null keeps the earlier one's).
    /// </summary>
    string? Commit(IReadOnlyList<(IPNetwork Network, DateTimeOffset Until)> blocks, IReadOnlyList<string?>? sources = null, KernelMark? mark = null);

    /// <summary>Who decided the block of <paramref name="network"/>; null when unknown or there is none.</summary>
    string? SourceOf(IPNetwork network);

    /// <summary>The source of every block in force that has one.</summary>
    Dictionary<IPNetwork, string> Sources();

    /// <summary>As <see cref="Open"/>, counting the blocks without reading them out (the kernel holds them already).</summary>
    void OpenCounted();

    /// <summary>Opens the file and reads its <see cref="Mark"/> without reading any block; <see cref="Open"/> then reads them.</summary>
    void Prepare();

    /// <summary>The kernel state the file vouches for, once prepared; null when none.</summary>
    KernelMark? Mark { get; }

    /// <summary>Blocks the preparation imported from an older file, which the kernel has not seen.</summary>
    int Imported { get; }

    /// <summary>Writes the kernel state the file vouches for (null: none), unless blocks wait in the backlog.</summary>
    void Record(KernelMark? mark);

    /// <summary>Whether a block of <paramref name="network"/> is recorded.</summary>
    bool Contains(IPNetwork network);

    /// <summary>The time the block of <paramref name="network"/> has left; null when there is none in force.</summary>
    TimeSpan? LeftOf(IPNetwork network);

    /// <summary>Hands every block in force (with the time it has left) to <paramref name="chunk"/> a few thousand at a time, never all in memory; the list is reused between calls.</summary>
    void ForEachActive(Action<PackedBlocks> chunk);

    /// <summary>Forgets a block, with <paramref name="mark"/> as <see cref="Commit"/> writes it; false when there was none.</summary>
    bool Remove(IPNetwork network, KernelMark? mark = null);

    /// <summary>The blocks in force with the time each has left (only those wider than one host with <paramref name="prefixesOnly"/>).</summary>
    List<(IPNetwork Network, TimeSpan Left)> Active(bool prefixesOnly = false);

    /// <summary>Blocks recorded of one kind: IPv4 or IPv6, one host or a wider prefix.</summary>
    long CountOf(bool v4, bool host);

    /// <summary>Removes the blocks that have ended; how many.</summary>
    int Sweep();

    /// <summary>Tries once more to save the backlog and closes; null when nothing is lost, else what and why.</summary>
    string? Close();
}
