namespace Shaper.Firewall;

/// <summary>The kinds of <see cref="BlockStoreNotice"/>.</summary>
public enum BlockStoreNoticeKind
{
    /// <summary>Saving failed; the blocks stay in memory and the write is retried with backoff.</summary>
    WriteFailed,

    /// <summary>A retried write went through; nothing is waiting any more.</summary>
    WriteRecovered,

    /// <summary>Stored records that could not be read were skipped (and removed).</summary>
    DamagedRecords,

    /// <summary>A database SQLite cannot read was moved aside and a new one started.</summary>
    DamagedDatabase,

    /// <summary>state_dir is not safe to write as root; blocks are kept in memory only.</summary>
    UnsafeDirectory,

    /// <summary>An old blocks.json was imported once and renamed.</summary>
    Imported,
}
