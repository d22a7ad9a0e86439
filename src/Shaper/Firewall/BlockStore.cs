using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using SQLitePCL;
using Shaper.Resilience;
using Shaper.Rules;

namespace Shaper.Firewall;

/// <summary>
/// The daemon's record of its blocks with their absolute expiry, in SQLite (<c>state_dir/blocks.db</c>, the way
/// fail2ban keeps its bans): write-ahead log with <c>synchronous = FULL</c>, so a block is on disk when
/// <see cref="Commit"/> returns null and survives <c>kill -9</c> and a power cut; one transaction per batch (group
/// commit). A write that fails (disk full, read-only file system) keeps its blocks in a backlog in memory, retried
/// with capped exponential backoff and jitter, and never throws; <see cref="Backlog"/> and <see cref="LastError"/>
/// show it. Damaged records are skipped and removed with a notice; a database SQLite cannot read is moved aside.
/// Nothing per block stays in memory but the backlog: counts per kind, the rest is read from the file when needed,
/// so a million blocks cost the daemon no more than a few. At most <see cref="MaxBlocks"/> blocks are kept.
/// </summary>
public sealed class BlockStore : IBlockStore
{
    /// <summary>The database's file name in state_dir.</summary>
    public const string DatabaseName = "blocks.db";

    /// <summary>The file of the JSON store before this one, imported once and renamed.</summary>
    public const string LegacyName = "blocks.json";

    private const long Removed = long.MinValue;
    private const int ChunkSize = 4096;

    // Another process holding the file (sqlite3 run by an operator) makes a write wait this long, then fail into the backlog.
    private const int BusyTimeoutSeconds = 1;
    private static readonly TimeSpan RetryBase = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan RetryCap = TimeSpan.FromSeconds(30);

    private readonly Lock _lock = new(); // one SQLite connection, shared by the control socket, the bookkeeping thread and the watch timer
    private int _wanting; // threads waiting for _lock through Hold, which Sweep lets in between its chunks
    private readonly string? _directory;
    private readonly TimeProvider _time;
    private readonly Action<BlockStoreNotice> _notice;
    private readonly Dictionary<IPNetwork, long> _pending = []; // what the file has not taken yet: expiry (Unix ms) or Removed
    private readonly Dictionary<IPNetwork, string> _pendingSources = []; // the sources of the backlog's blocks that have one
    private readonly long[] _counts = new long[4];             // by KindOf
    private readonly Random _jitter = new();
    private readonly byte[] _v4 = new byte[4];
    private readonly byte[] _v6 = new byte[16];
    private SqliteConnection? _db;
    private SqliteCommand? _insert, _update, _delete, _exists;
    private bool _writable;
    private ITimer? _retry;
    private bool _retryArmed;
    private int _attempt;
    private long _total;    // sum of _counts, readable without the lock
    private long _reserved; // admitted by TryReserve, not yet committed or released
    private bool _prepared;
    private KernelMark? _mark; // the kernel state the file vouches for, as last read or written

    /// <summary>A store in <paramref name="stateDir"/> (null: in memory only) holding at most <paramref name="maxBlocks"/> blocks.</summary>
    public BlockStore(string? stateDir, int maxBlocks, TimeProvider time, Action<BlockStoreNotice>? notice = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBlocks, 1);
        _directory = stateDir;
        MaxBlocks = maxBlocks;
        _time = time;
        _notice = notice ?? (_ => { });
    }

    /// <summary>The most blocks kept; more are refused.</summary>
    public int MaxBlocks { get; }

    /// <summary>Blocks recorded (saved or in the backlog), including any that ended since the last <see cref="Sweep"/>.</summary>
    public int Count => (int)Volatile.Read(ref _total);

    /// <summary>The most ended records one step of <see cref="Sweep"/> deletes under the store's lock: about 10 ms of SQLite's work here.</summary>
    internal const int SweepChunk = 4096;

    /// <summary>Writes waiting in memory because the file refused them.</summary>
    public int Backlog
    {
        get
        {
            using (Hold())
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>Why the last write failed, while the backlog is not empty; null otherwise.</summary>
    public string? LastError { get; private set; }

    /// <summary>Why blocks are kept in memory only (state_dir unset or unsafe); null when they are saved.</summary>
    public string? NotSaved { get; private set; }

    /// <summary>Blocks recorded of one kind: IPv4 or IPv6, one host or a wider prefix.</summary>
    public long CountOf(bool v4, bool host)
    {
        using (Hold())
        {
            return _counts[(v4 ? 0 : 2) + (host ? 0 : 1)];
        }
    }

    /// <summary>
    /// Opens (or creates) the database after checking that state_dir is safe, imports an old blocks.json, removes
    /// ended and damaged records, and counts the rest in one pass that also hands them to <paramref name="restore"/>
    /// (a few thousand at a time, as <see cref="ForEachActive"/>).
    /// Never throws for a bad file or directory: it says so through the notices and keeps what it can.
    /// </summary>
    public void Open(Action<PackedBlocks>? restore = null)
    {
        using (Hold())
        {
            Prepare();
            Array.Clear(_counts);
            Scan(restore ?? (_ => { }), int.MaxValue, ordered: false, count: true);
            Volatile.Write(ref _total, _counts.Sum());
        }
    }

    /// <summary>
    /// As <see cref="Open"/> without reading the blocks out: counts them in SQLite (over an index of their kind), for
    /// a start whose kernel holds them already. Rows no daemon could have written stay until the next
    /// <see cref="Open"/>, which skips and removes them; one of a wrong address length is not counted, one with a
    /// prefix out of range or host bits set is.
    /// </summary>
    public void OpenCounted()
    {
        using (Hold())
        {
            Prepare();
            Array.Clear(_counts);
            if (_db is not null)
            {
                try
                {
                    using var count = _db.CreateCommand();
                    // One range of the kind index per kind, no row read: 0.06 s of CPU for a million rows here, against
                    // 0.5 s for sums over the expiry index and 1.0 s for a GROUP BY.
                    count.CommandText = """
                        SELECT (SELECT count(*) FROM blocks WHERE length(addr) = 4 AND (prefix = 8 * length(addr)) = 1 AND expires_ms > $now AND expires_ms <= $latest),
                               (SELECT count(*) FROM blocks WHERE length(addr) = 4 AND (prefix = 8 * length(addr)) = 0 AND expires_ms > $now AND expires_ms <= $latest),
                               (SELECT count(*) FROM blocks WHERE length(addr) = 16 AND (prefix = 8 * length(addr)) = 1 AND expires_ms > $now AND expires_ms <= $latest),
                               (SELECT count(*) FROM blocks WHERE length(addr) = 16 AND (prefix = 8 * length(addr)) = 0 AND expires_ms > $now AND expires_ms <= $latest)
                        """;
                    count.Parameters.AddWithValue("$now", _time.GetUtcNow().ToUnixTimeMilliseconds());
                    count.Parameters.AddWithValue("$latest", LatestExpiry());
                    using var reader = count.ExecuteReader();
                    if (reader.Read())
                    {
                        for (var kind = 0; kind < 4; kind++)
                        {
                            _counts[kind] = reader.GetInt64(kind);
                        }
                    }
                }
                catch (SqliteException e)
                {
                    _notice(new(BlockStoreNoticeKind.DamagedRecords, $"counting the blocks in {DatabaseName} failed: {e.Message}"));
                }
            }

            Volatile.Write(ref _total, _counts.Sum());
        }
    }

    /// <summary>
    /// The first half of <see cref="Open"/>, which it skips when done already: checks state_dir, opens the database,
    /// imports an old blocks.json and removes ended records, and reads the <see cref="Mark"/>; reads no block.
    /// </summary>
    public void Prepare()
    {
        using (Hold())
        {
            if (_prepared)
            {
                return;
            }

            _prepared = true;
            string? path = null;
            if (_directory is null)
            {
                NotSaved = "no state_dir";
            }
            else if (StateDirectory.Prepare(_directory, [DatabaseName, DatabaseName + "-wal", DatabaseName + "-shm", LegacyName]) is { } unsafeReason)
            {
                NotSaved = unsafeReason;
                _notice(new(BlockStoreNoticeKind.UnsafeDirectory, unsafeReason + "; blocks are kept in memory only and will not survive a restart"));
            }
            else
            {
                path = Path.Combine(_directory, DatabaseName);
            }

            OpenDatabase(path);
            _mark = ReadMark();
            if (path is not null)
            {
                ImportLegacy(Path.Combine(_directory!, LegacyName));
            }

            // Nothing is counted yet (Open and OpenCounted count what is left), so the ended records go without being
            // read back: a start whose million blocks had all ended took 5.2 s to ready reading each back, 2.5 to 3.0 s
            // without, and 0.7 to 0.8 s with the table emptied whole (below).
            SweepLocked(counted: false);
        }
    }

    /// <summary>The kernel state the file vouches for (read by <see cref="Prepare"/>); null when none.</summary>
    public KernelMark? Mark
    {
        get
        {
            using (Hold())
            {
                return _mark;
            }
        }
    }

    /// <summary>Blocks imported from an old blocks.json by <see cref="Prepare"/>: the kernel has not seen them.</summary>
    public int Imported { get; private set; }

    /// <summary>
    /// Writes <paramref name="mark"/> (null: none) as the kernel state the file vouches for, when it differs from the
    /// one written last and nothing waits in the backlog (the file then lacks blocks the kernel has); a failure
    /// leaves the old one, which the kernel has moved past.
    /// </summary>
    public void Record(KernelMark? mark)
    {
        using (Hold())
        {
            if (mark == _mark || _pending.Count > 0 || !_writable)
            {
                return;
            }

            try
            {
                WriteMark(mark, null);
                _mark = mark;
            }
            catch (SqliteException)
            {
                // The old mark stays: it names a generation the kernel has left, so a restart installs every block.
            }
        }
    }

    /// <summary>
    /// Admits one new block under <see cref="MaxBlocks"/>, to be followed by <see cref="Release"/> once it is
    /// committed or failed. Without <paramref name="exact"/> (the engine thread) this takes no lock and reads no
    /// file, so at the cap it refuses even a renewal; with it, a block already recorded is admitted at the cap.
    /// Compiled optimized at once: the first attack calls it on the capture thread for each of its offenders.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public bool TryReserve(IPNetwork network, bool exact)
    {
        if (Interlocked.Increment(ref _reserved) + Volatile.Read(ref _total) <= MaxBlocks)
        {
            return true;
        }

        if (exact)
        {
            using (Hold())
            {
                if (Has(network))
                {
                    return true;
                }
            }
        }

        Interlocked.Decrement(ref _reserved);
        return false;
    }

    /// <summary>Returns <paramref name="count"/> admissions from <see cref="TryReserve"/>.</summary>
    public void Release(int count) => Interlocked.Add(ref _reserved, -count);

    /// <summary>
    /// Records blocks (each replacing any earlier block of the same network) in one transaction; null once they
    /// are on disk, else why not: they are then in the backlog, counted and listed, and retried.
    /// <paramref name="sources"/>, when given, holds each block's source (who decided it), by index; a null source
    /// keeps the one the network's block had (a restore's re-install).
    /// </summary>
    public string? Commit(IReadOnlyList<(IPNetwork Network, DateTimeOffset Until)> blocks, IReadOnlyList<string?>? sources = null, KernelMark? mark = null)
    {
        if (sources is not null && sources.Count != blocks.Count)
        {
            throw new ArgumentException($"{sources.Count} sources for {blocks.Count} blocks", nameof(sources));
        }

        using (Hold())
        {
            if (blocks.Count == 0)
            {
                return null;
            }

            if (_pending.Count == 0 && _writable && TryWrite(blocks, sources, mark))
            {
                return null;
            }

            for (var i = 0; i < blocks.Count; i++)
            {
                Queue(blocks[i].Network, blocks[i].Until.ToUnixTimeMilliseconds(), sources?[i]);
            }

            ScheduleRetry();
            return LastError;
        }
    }

    /// <summary>
    /// Forgets a block, with <paramref name="mark"/> (as <see cref="Commit"/>) in the same transaction when given; false
    /// when there was none. A failed delete waits in the backlog like a failed add.
    /// </summary>
    public bool Remove(IPNetwork network, KernelMark? mark = null)
    {
        using (Hold())
        {
            if (!Has(network))
            {
                return false;
            }

            if (_pending.Count == 0 && _writable)
            {
                try
                {
                    Bind(_delete!, network, 0);
                    using var transaction = mark is not null && mark != _mark ? _db!.BeginTransaction() : null;
                    _delete!.Transaction = transaction;
                    var deleted = _delete.ExecuteNonQuery();
                    if (transaction is not null)
                    {
                        WriteMark(mark, transaction);
                        transaction.Commit();
                        _delete.Transaction = null;
                        _mark = mark;
                    }

                    if (deleted > 0)
                    {
                        Adjust(network, -1);
                    }

                    return true;
                }
                catch (SqliteException e)
                {
                    Failed(e);
                }
            }

            Queue(network, Removed);
            ScheduleRetry();
            return true;
        }
    }

    /// <summary>Who decided the block of <paramref name="network"/> (as given to <see cref="Commit"/>); null when unknown or there is none.</summary>
    public string? SourceOf(IPNetwork network)
    {
        using (Hold())
        {
            if (_pending.TryGetValue(network, out var expires))
            {
                return expires == Removed ? null : _pendingSources.GetValueOrDefault(network);
            }

            if (_db is null)
            {
                return null;
            }

            try
            {
                using var query = _db.CreateCommand();
                query.CommandText = "SELECT source FROM blocks WHERE addr = $a AND prefix = $p";
                var address = network.BaseAddress.GetAddressBytes();
                query.Parameters.AddWithValue("$a", address);
                query.Parameters.AddWithValue("$p", network.PrefixLength);
                return query.ExecuteScalar() as string;
            }
            catch (SqliteException)
            {
                return null; // unreadable, or a file from before sources were kept (opened read-only, not migrated)
            }
        }
    }

    /// <summary>The source of every block that has one (the backlog's word over the file's); blocks without one are left out.</summary>
    public Dictionary<IPNetwork, string> Sources()
    {
        var result = new Dictionary<IPNetwork, string>();
        using (Hold())
        {
            if (_db is not null)
            {
                try
                {
                    using var query = _db.CreateCommand();
                    query.CommandText = "SELECT addr, prefix, source FROM blocks WHERE source IS NOT NULL AND expires_ms > $now";
                    query.Parameters.AddWithValue("$now", _time.GetUtcNow().ToUnixTimeMilliseconds());
                    using var reader = query.ExecuteReader();
                    while (reader.Read())
                    {
                        if (reader.GetValue(0) is byte[] { Length: 4 or 16 } address && reader.GetInt64(1) is var prefix && prefix >= 0 && prefix <= address.Length * 8)
                        {
                            result[new IPNetwork(new IPAddress(address), (int)prefix)] = reader.GetString(2);
                        }
                    }
                }
                catch (Exception e) when (e is SqliteException or ArgumentException or InvalidCastException)
                {
                    // Unreadable or damaged rows: listed without their source (the scan that restores them says so).
                }
            }

            foreach (var (network, expires) in _pending)
            {
                if (expires == Removed)
                {
                    result.Remove(network);
                }
                else if (_pendingSources.TryGetValue(network, out var source))
                {
                    result[network] = source;
                }
            }
        }

        return result;
    }

    /// <summary>
    /// Removes the blocks that have ended; how many. The file's ended records go <see cref="SweepChunk"/> at a time,
    /// the store's lock taken for each chunk alone: a million blocks that end together (one attack's) took 2.7 s to
    /// delete, measured here, and adding, removing or listing a block must not wait for all of that.
    /// </summary>
    public int Sweep()
    {
        var swept = 0;
        while (true)
        {
            int step;
            using (_lock.EnterScope())
            {
                step = SweepLocked(limit: SweepChunk);
            }

            swept += step;
            if (step < SweepChunk)
            {
                return swept;
            }

            // Whoever waited for the lock during that chunk goes before the next: the lock is not fair, and the sweep
            // would otherwise take it again at once, chunk after chunk (a waiter measured 120 ms behind it). Bounded,
            // so that a steady stream of waiters cannot stop the sweep.
            var spin = default(SpinWait);
            for (var turn = 0; turn < 100 && Volatile.Read(ref _wanting) > 0; turn++)
            {
                spin.SpinOnce();
            }
        }
    }

    /// <summary>The store's lock for anything but <see cref="Sweep"/>, counted in <see cref="_wanting"/> while waited for.</summary>
    private Lock.Scope Hold()
    {
        Interlocked.Increment(ref _wanting);
        var scope = _lock.EnterScope();
        Interlocked.Decrement(ref _wanting);
        return scope;
    }

    /// <summary>The blocks in force with the time each has left, soonest to end first (then the backlog's); only those wider than a host with <paramref name="prefixesOnly"/>.</summary>
    public List<(IPNetwork Network, TimeSpan Left)> Active(bool prefixesOnly = false)
    {
        var result = new List<(IPNetwork, TimeSpan)>();
        using (Hold())
        {
            Scan(chunk => result.AddRange(chunk), int.MaxValue, ordered: true, count: false, prefixesOnly);
        }

        return result;
    }

    /// <summary>Whether a block of <paramref name="network"/> is recorded (in the backlog or the file).</summary>
    public bool Contains(IPNetwork network)
    {
        using (Hold())
        {
            return Has(network);
        }
    }

    /// <summary>The time the block of <paramref name="network"/> has left; null when there is none in force.</summary>
    public TimeSpan? LeftOf(IPNetwork network)
    {
        using (Hold())
        {
            var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
            return ExpiryOf(network, nowMs) is { } expires ? TimeSpan.FromMilliseconds(expires - nowMs) : null;
        }
    }

    /// <summary>
    /// Hands every block in force to <paramref name="chunk"/>, a few thousand at a time (for installing them in the
    /// kernel after a start or a flush), without holding them all in memory, each with the time it has left. The list
    /// is reused between calls.
    /// </summary>
    public void ForEachActive(Action<PackedBlocks> chunk)
    {
        using (Hold())
        {
            Scan(chunk, int.MaxValue, ordered: false, count: false);
        }
    }

    /// <summary>Tries once more to save the backlog and closes the file; null when nothing is left unsaved, else what is lost and why.</summary>
    public string? Close()
    {
        using (Hold())
        {
            _retry?.Dispose();
            _retry = null;
            if (_pending.Count > 0)
            {
                Flush(schedule: false);
            }

            var unsaved = _pending.Count;
            var reason = LastError;
            CloseDatabase();
            return unsaved == 0 ? null : $"{unsaved} block changes could not be saved to {_directory} ({reason}); they are lost with this stop";
        }
    }

    /// <inheritdoc/>
    public void Dispose() => Close();

    private static int KindOf(IPNetwork network) =>
        KindOf(network.BaseAddress.AddressFamily == AddressFamily.InterNetwork, NftBlockSets.IsHost(network));

    /// <summary>The index in the counts of a block of an IPv4 (else IPv6, IPv4-mapped included) address that is, or is not, one host.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int KindOf(bool v4, bool host) => (v4 ? 0 : 2) + (host ? 0 : 1);

    /// <summary>
    /// Reads the blocks in force (the backlog's word over the file's) into <paramref name="chunk"/>; with
    /// <paramref name="count"/> adds them to the counts. Rows no daemon could have written are skipped and removed.
    /// Straight through SQLite's C API: the ADO.NET reader's GetBytes opens an incremental blob handle per call,
    /// which made a million rows take 27 s of CPU against 0.7 s this way.
    /// </summary>
    // Compiled once, optimized, at its first call: a restore of a million blocks runs this loop and NftNetlink's batch
    // builder a million times in the first two seconds, where the precompiled code was being instrumented and compiled
    // again, hot method by hot method, on the same two cores as the kernel's inserts (250 of 412 recompilations gone;
    // the process's CPU to ready 2.09-2.74 s against 2.79-2.90 s, four alternating starts each).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Scan(Action<PackedBlocks> chunk, int limit, bool ordered, bool count, bool prefixesOnly = false)
    {
        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var latest = LatestExpiry();
        var buffer = new PackedBlocks(Math.Min(limit, ChunkSize));
        var given = 0;
        var damaged = 0;
        var hostBits = new List<(byte[] Address, int Prefix)>();
        if (_db is not null)
        {
            var sql = "SELECT addr, prefix, expires_ms FROM blocks WHERE expires_ms > ?1"
                + (prefixesOnly ? " AND prefix <> 8 * length(addr)" : "") + (ordered ? " ORDER BY expires_ms" : "");
            using var reader = ReadOnlyConnection(sql, out var statement);
            var rc = statement is null ? raw.sqlite3_prepare_v2(_db.Handle, sql, out statement) : raw.SQLITE_OK;
            using (statement)
            {
                if (rc == raw.SQLITE_OK)
                {
                    raw.sqlite3_bind_int64(statement, 1, nowMs);
                    var row = SqliteColumns.Of(statement);
                    while (given < limit && (rc = raw.sqlite3_step(statement)) == raw.SQLITE_ROW)
                    {
                        var bytes = SqliteColumns.Type(row, 0) == raw.SQLITE_BLOB ? SqliteColumns.Blob(row, 0) : default;
                        var prefix = SqliteColumns.Type(row, 1) == raw.SQLITE_INTEGER ? SqliteColumns.Int64(row, 1) : -1;
                        var expires = SqliteColumns.Type(row, 2) == raw.SQLITE_INTEGER ? SqliteColumns.Int64(row, 2) : long.MaxValue;
                        if (bytes.Length is not (4 or 16) || prefix < 0 || prefix > bytes.Length * 8 || expires > latest)
                        {
                            damaged++;
                            continue;
                        }

                        if (!HostBitsClear(bytes, (int)prefix))
                        {
                            damaged++;
                            hostBits.Add((bytes.ToArray(), (int)prefix));
                            continue;
                        }

                        // The row's bytes go to the kernel as they are: an IPNetwork is made only to look in a backlog.
                        if (_pending.Count > 0 && _pending.ContainsKey(new IPNetwork(new IPAddress(bytes), (int)prefix)))
                        {
                            continue; // the backlog's word is newer, and counted already
                        }

                        if (count)
                        {
                            _counts[KindOf(bytes.Length == 4, prefix == bytes.Length * 8)]++;
                        }

                        buffer.Add(bytes, (int)prefix, TimeSpan.FromMilliseconds(expires - nowMs));
                        given++;
                        if (buffer.Count == ChunkSize)
                        {
                            chunk(buffer);
                            buffer.Clear();
                        }
                    }
                }

                if (rc is not (raw.SQLITE_DONE or raw.SQLITE_ROW))
                {
                    _notice(new(BlockStoreNoticeKind.DamagedRecords, $"reading {DatabaseName} stopped after {given} blocks: {raw.sqlite3_errmsg(_db.Handle).utf8_to_string()}; the rest are not restored"));
                }
            }
        }

        foreach (var (network, expires) in _pending)
        {
            if (given < limit && expires != Removed && expires > nowMs && !(prefixesOnly && NftBlockSets.IsHost(network)))
            {
                buffer.Add(network, TimeSpan.FromMilliseconds(expires - nowMs));
                given++;
            }
        }

        if (buffer.Count > 0)
        {
            chunk(buffer);
        }

        if (damaged > 0)
        {
            RemoveDamaged(damaged, hostBits, latest);
        }
    }

    /// <summary>
    /// A connection of the scan's own to the store's file, read-only and without SQLite's per-connection mutex, with
    /// <paramref name="sql"/> prepared on it; null (and a null statement) for a store in memory or when either fails,
    /// and the scan reads through the store's connection. The shared connection is serialized: every column read of a
    /// row takes and gives back its mutex, seven times a row, a third of a CPU-second for a million blocks. The scan
    /// runs under the store's lock, on one thread, and commits nothing, so the connection's committed state is the
    /// store's; it is closed when the scan ends.
    /// </summary>
    private sqlite3? ReadOnlyConnection(string sql, out sqlite3_stmt? statement)
    {
        statement = null;
        if (_db?.DataSource is not { Length: > 0 } file || file == ":memory:")
        {
            return null;
        }

        // A first read proves the connection can read (the write-ahead log's index included) before the scan relies on it.
        if (raw.sqlite3_open_v2(file, out var connection, raw.SQLITE_OPEN_READONLY | raw.SQLITE_OPEN_NOMUTEX, null) == raw.SQLITE_OK
            && raw.sqlite3_exec(connection, "SELECT 1 FROM blocks LIMIT 1") == raw.SQLITE_OK
            && raw.sqlite3_prepare_v2(connection, sql, out var prepared) is var rc)
        {
            if (rc == raw.SQLITE_OK)
            {
                statement = prepared;
                return connection;
            }

            prepared.Dispose();
        }

        connection.Dispose();
        return null;
    }

    private static bool HostBitsClear(ReadOnlySpan<byte> address, int prefix)
    {
        for (var bit = prefix; bit < address.Length * 8; bit++)
        {
            if ((address[bit >> 3] & (0x80 >> (bit & 7))) != 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The latest expiry a block can have: the longest duration a block may be given, plus a day for clock steps.</summary>
    private long LatestExpiry() => (_time.GetUtcNow() + DurationParser.Max + TimeSpan.FromDays(1)).ToUnixTimeMilliseconds();

    private void OpenDatabase(string? path)
    {
        if (path is null)
        {
            Connect("Data Source=:memory:");
            return;
        }

        var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false, DefaultTimeout = BusyTimeoutSeconds };
        try
        {
            Connect(builder.ToString());
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        catch (SqliteException e) when (e.SqliteErrorCode is 11 or 26) // SQLITE_CORRUPT, SQLITE_NOTADB
        {
            CloseDatabase();
            var aside = $"{path}.damaged-{_time.GetUtcNow().ToUnixTimeSeconds()}";
            File.Move(path, aside, overwrite: true);
            foreach (var suffix in new[] { "-wal", "-shm" })
            {
                File.Delete(path + suffix);
            }

            _notice(new(BlockStoreNoticeKind.DamagedDatabase, $"{path} could not be read ({e.Message}); moved it to {aside} and started an empty one"));
            try
            {
                Connect(builder.ToString());
            }
            catch (SqliteException again)
            {
                OpenReadOnly(path, again);
            }
        }
        catch (Exception e) when (e is SqliteException or IOException or UnauthorizedAccessException)
        {
            OpenReadOnly(path, e);
        }
    }

    /// <summary>The file cannot be written (a read-only file system): read what it holds, and queue every change until it can.</summary>
    private void OpenReadOnly(string path, Exception why)
    {
        CloseDatabase();
        LastError = Describe(why);
        _notice(new(BlockStoreNoticeKind.WriteFailed, $"cannot write {path} ({LastError}); reading what it holds, keeping new blocks in memory and retrying"));
        foreach (var source in new[] { $"Data Source={path};Mode=ReadOnly;Pooling=False", $"Data Source=file:{path}?immutable=1;Mode=ReadOnly;Pooling=False" })
        {
            try
            {
                if (File.Exists(path))
                {
                    Connect(source, writable: false);
                    return;
                }
            }
            catch (SqliteException)
            {
                CloseDatabase();
            }
        }
    }

    private void Connect(string connectionString, bool writable = true)
    {
        var db = new SqliteConnection(connectionString);
        try
        {
            db.Open();
            using (var setup = db.CreateCommand())
            {
                // WAL with synchronous FULL: a commit returns once its log frame is fsynced, so it survives kill -9 and a power cut.
                setup.CommandText = writable
                    ? """
                      PRAGMA journal_mode = WAL;
                      PRAGMA synchronous = FULL;
                      CREATE TABLE IF NOT EXISTS blocks (addr BLOB NOT NULL, prefix INTEGER NOT NULL, expires_ms INTEGER NOT NULL, PRIMARY KEY (addr, prefix)) WITHOUT ROWID;
                      CREATE INDEX IF NOT EXISTS blocks_by_expiry ON blocks (expires_ms);
                      CREATE INDEX IF NOT EXISTS blocks_by_kind ON blocks (length(addr), prefix = 8 * length(addr), expires_ms);
                      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
                      """
                    : "SELECT count(*) FROM blocks;";
                setup.ExecuteNonQuery();
                if (writable)
                {
                    // Who decided each block (null: unknown, as for every block a store from before this column holds).
                    setup.CommandText = "SELECT count(*) FROM pragma_table_info('blocks') WHERE name = 'source'";
                    if (setup.ExecuteScalar() is 0L)
                    {
                        setup.CommandText = "ALTER TABLE blocks ADD COLUMN source TEXT";
                        setup.ExecuteNonQuery();
                    }
                }
            }
        }
        catch
        {
            db.Dispose();
            throw;
        }

        _db = db;
        _writable = writable;
        _insert = Command(writable ? "INSERT OR IGNORE INTO blocks (addr, prefix, expires_ms, source) VALUES ($a, $p, $e, $s)" : "INSERT OR IGNORE INTO blocks (addr, prefix, expires_ms) VALUES ($a, $p, $e)");
        _update = Command(writable ? "UPDATE blocks SET expires_ms = $e, source = coalesce($s, source) WHERE addr = $a AND prefix = $p" : "UPDATE blocks SET expires_ms = $e WHERE addr = $a AND prefix = $p");
        _delete = Command("DELETE FROM blocks WHERE addr = $a AND prefix = $p");
        _exists = Command("SELECT expires_ms FROM blocks WHERE addr = $a AND prefix = $p AND expires_ms > $e");
    }

    private SqliteCommand Command(string text)
    {
        var command = _db!.CreateCommand();
        command.CommandText = text;
        foreach (var name in new[] { "$a", "$p", "$e", "$s" })
        {
            if (text.Contains(name, StringComparison.Ordinal))
            {
                command.Parameters.Add(new SqliteParameter { ParameterName = name });
            }
        }

        command.Prepare();
        return command;
    }

    private void CloseDatabase()
    {
        foreach (var command in new[] { _insert, _update, _delete, _exists })
        {
            command?.Dispose();
        }

        _insert = _update = _delete = _exists = null;
        _db?.Dispose();
        _db = null;
        _writable = false;
    }

    /// <summary>The mark the file holds; null when none or unreadable.</summary>
    private KernelMark? ReadMark()
    {
        if (_db is null)
        {
            return null;
        }

        try
        {
            using var read = _db.CreateCommand();
            read.CommandText = "SELECT value FROM meta WHERE key = 'kernel'";
            return KernelMark.Parse(read.ExecuteScalar() as string);
        }
        catch (SqliteException)
        {
            return null; // a file from before marks (read-only, so never given the table): nothing vouched for
        }
    }

    /// <summary>Writes the mark (null: deletes it), in <paramref name="transaction"/> when given.</summary>
    private void WriteMark(KernelMark? mark, SqliteTransaction? transaction)
    {
        using var write = _db!.CreateCommand();
        write.Transaction = transaction;
        write.CommandText = mark is { } value
            ? "INSERT INTO meta (key, value) VALUES ('kernel', $v) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            : "DELETE FROM meta WHERE key = 'kernel'";
        if (mark is { } given)
        {
            write.Parameters.AddWithValue("$v", given.ToString());
        }

        write.ExecuteNonQuery();
    }

    /// <summary>
    /// Removes the ended records (the backlog's, else the file's: with <paramref name="counted"/>, at most
    /// <paramref name="limit"/> of them, each taken out of the counts); how many.
    /// </summary>
    private int SweepLocked(bool counted = true, int limit = int.MaxValue)
    {
        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var swept = 0;
        if (_pending.Count > 0)
        {
            foreach (var (network, expires) in _pending.ToList())
            {
                if (expires != Removed && expires <= nowMs)
                {
                    _pending[network] = Removed;
                    Adjust(network, -1);
                    swept++;
                }
            }

            return swept; // the file's ended records go once the backlog is saved
        }

        if (!_writable)
        {
            return swept;
        }

        try
        {
            using var sweep = _db!.CreateCommand();
            sweep.Parameters.AddWithValue("$now", nowMs);
            if (!counted)
            {
                // With nothing in force (the daemon was down longer than every block lasts), the table is emptied
                // whole, which SQLite does page by page instead of row by row (a million rows with the sqlite3 module
                // here: 0.7 s against 1.8 s).
                sweep.CommandText = "SELECT EXISTS (SELECT 1 FROM blocks WHERE expires_ms > $now)";
                sweep.CommandText = (long)sweep.ExecuteScalar()! == 0 ? "DELETE FROM blocks" : "DELETE FROM blocks WHERE expires_ms <= $now";
                return sweep.ExecuteNonQuery();
            }

            // The ended records come from the expiry index, the first few thousand of them; each chunk starts over from
            // its beginning, where the last chunk's have gone from.
            sweep.Parameters.AddWithValue("$limit", limit);
            sweep.CommandText = """
                DELETE FROM blocks WHERE (addr, prefix) IN (SELECT addr, prefix FROM blocks WHERE expires_ms <= $now LIMIT $limit)
                RETURNING length(addr) = 4, prefix = 8 * length(addr)
                """;
            using var reader = sweep.ExecuteReader();
            while (reader.Read())
            {
                _counts[(reader.GetInt64(0) == 1 ? 0 : 2) + (reader.GetInt64(1) == 1 ? 0 : 1)]--;
                swept++;
            }
        }
        catch (SqliteException e)
        {
            // Ended blocks are harmless where they are: the kernel has dropped them; the next sweep tries again.
            LastError = Describe(e);
        }

        Volatile.Write(ref _total, _counts.Sum());
        return swept;
    }

    private bool TryWrite(IReadOnlyList<(IPNetwork Network, DateTimeOffset Until)> blocks, IReadOnlyList<string?>? sources, KernelMark? mark)
    {
        Span<long> added = stackalloc long[4];
        try
        {
            using var transaction = _db!.BeginTransaction();
            if (mark is not null && mark != _mark)
            {
                WriteMark(mark, transaction);
            }

            _insert!.Transaction = _update!.Transaction = transaction;
            for (var i = 0; i < blocks.Count; i++)
            {
                var (network, until) = blocks[i];
                var expires = until.ToUnixTimeMilliseconds();
                Bind(_insert, network, expires, sources?[i]);
                if (_insert.ExecuteNonQuery() == 1)
                {
                    added[KindOf(network)]++;
                }
                else
                {
                    Bind(_update, network, expires, sources?[i]);
                    _update.ExecuteNonQuery();
                }
            }

            transaction.Commit();
        }
        catch (SqliteException e)
        {
            Failed(e);
            return false;
        }

        _mark = mark ?? _mark;
        for (var kind = 0; kind < 4; kind++)
        {
            _counts[kind] += added[kind];
        }

        Volatile.Write(ref _total, _counts.Sum());
        return true;
    }

    /// <summary>Saves the backlog in one transaction; on failure it stays and (with <paramref name="schedule"/>) is retried later.</summary>
    private void Flush(bool schedule)
    {
        if (_pending.Count == 0)
        {
            return;
        }

        try
        {
            if (!_writable && _directory is not null && NotSaved is null)
            {
                CloseDatabase();
                Connect(new SqliteConnectionStringBuilder { DataSource = Path.Combine(_directory, DatabaseName), Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false, DefaultTimeout = BusyTimeoutSeconds }.ToString());
            }

            if (_db is null)
            {
                throw new InvalidOperationException("the database is not open");
            }

            using (var transaction = _db.BeginTransaction())
            {
                _insert!.Transaction = _update!.Transaction = _delete!.Transaction = transaction;
                foreach (var (network, expires) in _pending)
                {
                    if (expires == Removed)
                    {
                        Bind(_delete, network, 0);
                        _delete.ExecuteNonQuery();
                    }
                    else
                    {
                        var source = _pendingSources.GetValueOrDefault(network);
                        Bind(_insert, network, expires, source);
                        if (_insert.ExecuteNonQuery() == 0)
                        {
                            Bind(_update, network, expires, source);
                            _update.ExecuteNonQuery();
                        }
                    }
                }

                transaction.Commit();
            }

            _delete.Transaction = null;
            var saved = _pending.Count;
            _pending.Clear();
            _pendingSources.Clear();
            _attempt = 0;
            _notice(new(BlockStoreNoticeKind.WriteRecovered, $"saved {saved} block changes that had waited (the last failure: {LastError}); nothing is waiting now"));
            LastError = null;
        }
        catch (Exception e) when (e is SqliteException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            if (_db is null || e is InvalidOperationException)
            {
                CloseDatabase(); // reopening failed half-way: start over next time
            }

            LastError = Describe(e);
            if (schedule)
            {
                ScheduleRetry();
            }
        }
    }

    /// <summary>Arms one retry of the backlog (if none is armed), later with each failure in a row.</summary>
    private void ScheduleRetry()
    {
        if (_retryArmed || _pending.Count == 0)
        {
            return;
        }

        _retry?.Dispose();
        _retryArmed = true;
        _retry = _time.CreateTimer(
            _ =>
            {
                using (Hold())
                {
                    _retryArmed = false;
                    Flush(schedule: true);
                }
            },
            null,
            Backoff.FullJitter(_attempt++, RetryBase, RetryCap, _jitter),
            Timeout.InfiniteTimeSpan);
    }

    /// <summary>Puts one change in the backlog, keeping the counts of what is recorded.</summary>
    private void Queue(IPNetwork network, long expires, string? source = null)
    {
        var existed = Has(network);
        if (expires == Removed && existed)
        {
            Adjust(network, -1);
        }
        else if (expires != Removed && !existed)
        {
            Adjust(network, +1);
        }

        _pending[network] = expires;
        if (source is not null)
        {
            _pendingSources[network] = source;
        }
        else if (expires == Removed)
        {
            _pendingSources.Remove(network);
        }
    }

    /// <summary>Whether a block of <paramref name="network"/> is recorded (in the backlog or the file) and has not ended.</summary>
    private bool Has(IPNetwork network) => ExpiryOf(network, _time.GetUtcNow().ToUnixTimeMilliseconds()) is not null;

    /// <summary>When the block of <paramref name="network"/> in force ends (Unix ms, the backlog's word over the file's); null when there is none.</summary>
    private long? ExpiryOf(IPNetwork network, long nowMs)
    {
        if (_pending.TryGetValue(network, out var pending))
        {
            return pending != Removed && pending > nowMs ? pending : null;
        }

        if (_db is null)
        {
            return null;
        }

        try
        {
            Bind(_exists!, network, nowMs);
            return _exists!.ExecuteScalar() is long expires ? expires : null;
        }
        catch (SqliteException)
        {
            return null; // unreadable: counted as new, so the count errs high and the cap early
        }
    }

    private void Adjust(IPNetwork network, int by)
    {
        _counts[KindOf(network)] += by;
        Volatile.Write(ref _total, _total + by);
    }

    private void Failed(Exception e)
    {
        var first = LastError is null;
        LastError = Describe(e);
        if (first)
        {
            _notice(new(BlockStoreNoticeKind.WriteFailed, $"saving blocks to {_directory} failed ({LastError}); they are enforced and kept in memory, and the write is retried"));
        }
    }

    private string Describe(Exception e) =>
        _directory is not null && StateDirectory.IsReadOnly(_directory) ? "the file system is read-only"
        : e is SqliteException sqlite ? sqlite.SqliteErrorCode switch
        {
            13 => "the disk is full",
            8 => "the database is read-only",
            _ => sqlite.Message.Replace("SQLite Error ", "SQLite error ", StringComparison.Ordinal),
        }
        : e.Message;

    private void Bind(SqliteCommand command, IPNetwork network, long expires, string? source = null)
    {
        var address = network.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? _v4 : _v6;
        network.BaseAddress.TryWriteBytes(address, out _);
        command.Parameters[0].Value = address;
        if (command.Parameters.Count > 1)
        {
            command.Parameters[1].Value = network.PrefixLength;
        }

        if (command.Parameters.Count > 2)
        {
            command.Parameters[2].Value = expires;
        }

        if (command.Parameters.Count > 3)
        {
            command.Parameters[3].Value = (object?)source ?? DBNull.Value;
        }
    }

    /// <summary>Removes the damaged rows a scan found (never counted): those of the wrong type or range by one statement, those with host bits one by one.</summary>
    private void RemoveDamaged(int damaged, List<(byte[] Address, int Prefix)> hostBits, long latest)
    {
        _notice(new(BlockStoreNoticeKind.DamagedRecords, $"skipped {damaged} damaged records in {DatabaseName} (bad address, prefix or expiry); they are removed"));
        if (!_writable || _pending.Count > 0)
        {
            return;
        }

        try
        {
            using var transaction = _db!.BeginTransaction();
            using var purge = _db.CreateCommand();
            purge.Transaction = transaction;
            purge.CommandText = """
                DELETE FROM blocks WHERE typeof(addr) <> 'blob' OR length(addr) NOT IN (4, 16) OR typeof(prefix) <> 'integer'
                    OR prefix < 0 OR prefix > 8 * length(addr) OR typeof(expires_ms) <> 'integer' OR expires_ms > $latest
                """;
            purge.Parameters.AddWithValue("$latest", latest);
            purge.ExecuteNonQuery();
            purge.CommandText = "DELETE FROM blocks WHERE addr = $a AND prefix = $p";
            var a = purge.Parameters.Add("$a", SqliteType.Blob);
            var p = purge.Parameters.Add("$p", SqliteType.Integer);
            foreach (var (address, prefix) in hostBits)
            {
                a.Value = address;
                p.Value = prefix;
                purge.ExecuteNonQuery();
            }

            transaction.Commit();
        }
        catch (SqliteException e)
        {
            LastError = Describe(e);
        }
    }

    /// <summary>Imports an old blocks.json once, entry by entry (a damaged entry is skipped), then renames it.</summary>
    private void ImportLegacy(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }

        var (blocks, skipped) = LegacyBlocksFile.Read(path, _time.GetUtcNow(), LatestExpiry());
        Imported = blocks.Count;
        var error = Commit(blocks);
        var suffix = blocks.Count == 0 && skipped > 0 ? ".damaged" : ".imported";
        if (error is null)
        {
            try
            {
                File.Move(path, path + suffix, overwrite: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                error = e.Message; // imported again next start: a replace changes nothing
            }
        }

        _notice(new(BlockStoreNoticeKind.Imported, $"imported {blocks.Count} blocks from {path}" + (skipped > 0 ? $", skipped {skipped} damaged entries" : "")
            + (error is null ? $"; renamed it to {LegacyName}{suffix}" : $"; kept it for the next start ({error})")));
    }
}
