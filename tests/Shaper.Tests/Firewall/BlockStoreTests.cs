using System.Net;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using Shaper.Firewall;
using Shaper.Tests.Lab;

namespace Shaper.Tests.Firewall;

/// <summary>The SQLite block store against real files in a temporary state_dir, with a clock the test moves.</summary>
public sealed class BlockStoreTests : IDisposable
{
    private static readonly IPNetwork A = IPNetwork.Parse("198.18.0.1/32");
    private static readonly IPNetwork B = IPNetwork.Parse("198.18.7.0/24");
    private static readonly IPNetwork C = IPNetwork.Parse("2001:db8::1/128");
    private static readonly IPNetwork D = IPNetwork.Parse("2001:db8:5::/48");

    private readonly string _dir = Path.Combine(Directory.CreateTempSubdirectory("shaper-store-").FullName, "state");
    private readonly FakeTimeProvider _time = new();
    private readonly List<BlockStoreNotice> _notices = [];

    public void Dispose() => Directory.Delete(Path.GetDirectoryName(_dir)!, recursive: true);

    [Fact]
    public void Commit_Reopened_BlocksBackWithTheirTimeLeftAndCountsByKind()
    {
        using (var store = Open())
        {
            Assert.Null(store.Commit([(A, _time.GetUtcNow().AddMinutes(10)), (B, _time.GetUtcNow().AddMinutes(5)), (C, _time.GetUtcNow().AddMinutes(1)), (D, _time.GetUtcNow().AddHours(1))]));
        }

        _time.Advance(TimeSpan.FromMinutes(2));
        using var reopened = Open();
        Assert.Equal(
            [(B, TimeSpan.FromMinutes(3)), (A, TimeSpan.FromMinutes(8)), (D, TimeSpan.FromMinutes(58))],
            reopened.Active());
        Assert.Equal(3, reopened.Count); // C ended while the store was closed
        Assert.Equal(1, reopened.CountOf(v4: true, host: true));
        Assert.Equal(1, reopened.CountOf(v4: true, host: false));
        Assert.Equal(0, reopened.CountOf(v4: false, host: true));
        Assert.Equal(1, reopened.CountOf(v4: false, host: false));
        Assert.Empty(_notices);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir, BlockStore.DatabaseName)));
    }

    [Fact]
    public void Commit_SameNetworkAgain_ReplacesItsExpiryEvenWhenShorter()
    {
        using var store = Open();
        store.Commit([(A, _time.GetUtcNow().AddDays(365))]);
        store.Commit([(A, _time.GetUtcNow().AddSeconds(30))]);
        Assert.Equal(1, store.Count);
        Assert.Equal([(A, TimeSpan.FromSeconds(30))], store.Active());
    }

    [Fact]
    public void Sweep_EndedBlocks_RemovedAndUncounted()
    {
        using var store = Open();
        store.Commit([(A, _time.GetUtcNow().AddSeconds(10)), (C, _time.GetUtcNow().AddSeconds(20))]);
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(1, store.Sweep());
        Assert.Equal(1, store.Count);
        Assert.Equal(0, store.CountOf(v4: true, host: true));
        Assert.Equal([(C, TimeSpan.FromSeconds(10))], store.Active());
    }

    // Issue 14: one attack's blocks end together. The sweep deletes them a chunk at a time and lets whoever waits for
    // the store (block add, del, list) in between chunks, instead of holding it for the whole sweep (2.7 s for a million).
    [Fact]
    public async Task Sweep_ManyEndedTogether_AllGoAndAWaiterGetsInBetweenChunks()
    {
        const int Ended = 100 * BlockStore.SweepChunk;
        using var store = Open();
        var until = _time.GetUtcNow().AddMinutes(1);
        var batch = new List<(IPNetwork, DateTimeOffset)>(BlockStore.SweepChunk);
        for (var i = 0; i < Ended; i++)
        {
            batch.Add((new IPNetwork(new IPAddress([10, (byte)(i >> 16), (byte)(i >> 8), (byte)i]), 32), until));
            if (batch.Count == BlockStore.SweepChunk)
            {
                Assert.Null(store.Commit(batch));
                batch.Clear();
            }
        }

        Assert.Null(store.Commit([(A, until.AddHours(1)), (D, until.AddHours(2))]));
        Assert.Equal(Ended + 2, store.Count);
        _time.Advance(TimeSpan.FromMinutes(2));

        var sweeping = Task.Factory.StartNew(store.Sweep, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Assert.True(SpinWait.SpinUntil(() => store.Count < Ended + 2, TimeSpan.FromSeconds(60)), "no chunk of the sweep ended");
        var before = store.Count;
        Assert.True(store.Contains(A));
        var after = store.Count;

        // In before the sweep ended, and behind at most the chunk under way when it asked and the one after it.
        Assert.True(after > 2, $"the sweep ended before the waiter got the store ({after} blocks left)");
        Assert.InRange(before - after, 0, 2 * BlockStore.SweepChunk);

        Assert.Equal(Ended, await sweeping);
        Assert.Equal(2, store.Count);
        Assert.Equal(1, store.CountOf(v4: true, host: true));
        Assert.Equal(0, store.CountOf(v4: true, host: false));
        Assert.Equal(1, store.CountOf(v4: false, host: false));
        Assert.Equal([A, D], store.Active().Select(b => b.Network));
        Assert.Equal(0, store.Sweep());
    }

    // Records that ended while the daemon was down leave the file at the next start, before anything is counted:
    // both ways of opening (reading every block, or counting them for a kernel that holds them) count what is left,
    // also when nothing is (the table is then emptied whole).
    [Theory]
    [InlineData(false, true)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(true, false)]
    public void Open_RecordsEndedWhileClosed_LeaveTheFileAndAreNeverCounted(bool counting, bool oneLeft)
    {
        using (var store = Open())
        {
            store.Commit([(A, _time.GetUtcNow().AddMinutes(oneLeft ? 10 : 1)), (B, _time.GetUtcNow().AddMinutes(1)), (C, _time.GetUtcNow().AddMinutes(1)), (D, _time.GetUtcNow().AddMinutes(1))]);
        }

        _time.Advance(TimeSpan.FromMinutes(2));
        using var reopened = new BlockStore(_dir, 1 << 20, _time, _notices.Add);
        if (counting)
        {
            reopened.OpenCounted();
        }
        else
        {
            reopened.Open();
        }

        var left = oneLeft ? 1 : 0;
        Assert.Equal(left, reopened.Count);
        Assert.Equal([left, 0L, 0L, 0L], [reopened.CountOf(v4: true, host: true), reopened.CountOf(v4: true, host: false), reopened.CountOf(v4: false, host: true), reopened.CountOf(v4: false, host: false)]);
        using (var db = new SqliteConnection($"Data Source={Path.Combine(_dir, BlockStore.DatabaseName)};Pooling=False"))
        {
            db.Open();
            using var rows = db.CreateCommand();
            rows.CommandText = "SELECT count(*) FROM blocks";
            Assert.Equal(left, (long)rows.ExecuteScalar()!);
        }

        Assert.Equal(0, reopened.Sweep()); // nothing ended is left to take out of the counts
        Assert.Null(reopened.Commit([(C, _time.GetUtcNow().AddMinutes(1))])); // and a new block after it is counted
        Assert.Equal(left + 1, reopened.Count);
    }

    [Fact]
    public void Remove_Recorded_GoneAfterReopen_AndUnknownIsFalse()
    {
        using (var store = Open())
        {
            store.Commit([(A, _time.GetUtcNow().AddMinutes(1)), (B, _time.GetUtcNow().AddMinutes(1))]);
            Assert.True(store.Remove(A));
            Assert.False(store.Remove(A));
            Assert.False(store.Remove(C));
            Assert.Equal(1, store.Count);
        }

        using var reopened = Open();
        Assert.Equal([B], reopened.Active().Select(b => b.Network));
    }

    [Fact]
    public void TryReserve_AtMaxBlocks_RefusesNewAndAdmitsARenewalOnlyWhenExact()
    {
        using var store = Open(maxBlocks: 2);
        Assert.True(store.TryReserve(A, exact: false));
        Assert.True(store.TryReserve(B, exact: false));
        Assert.False(store.TryReserve(C, exact: true)); // two admitted, not yet committed, already fill it
        store.Commit([(A, _time.GetUtcNow().AddMinutes(1)), (B, _time.GetUtcNow().AddMinutes(1))]);
        store.Release(2);

        Assert.False(store.TryReserve(C, exact: true));
        Assert.False(store.TryReserve(A, exact: false)); // the engine's path reads no file: at the cap it refuses all
        Assert.True(store.TryReserve(A, exact: true));   // the operator's renewal of a recorded block is no new block
        store.Release(1);

        Assert.True(store.Remove(B));
        Assert.True(store.TryReserve(C, exact: false));
    }

    // Issue 14 item 4: an entry with expires_unix_ms 99999999999999999 crashed every start.
    [Fact]
    public void Open_LegacyJsonWithDamagedEntries_ImportsTheRestOnceAndRenamesIt()
    {
        Directory.CreateDirectory(_dir);
        var until = _time.GetUtcNow().AddMinutes(10).ToUnixTimeMilliseconds();
        File.WriteAllText(Path.Combine(_dir, "blocks.json"), $$"""
            {"version":1,"blocks":[
              {"cidr":"198.18.0.1/32","expires_unix_ms":{{until}}},
              {"cidr":"198.18.0.2/32","expires_unix_ms":99999999999999999},
              {"cidr":"198.18.0.3/32","expires_unix_ms":"soon"},
              {"cidr":"not-an-address","expires_unix_ms":{{until}}},
              {"cidr":"198.18.0.1/24","expires_unix_ms":{{until}}},
              42,
              {"cidr":"2001:db8:5::/48","expires_unix_ms":{{until}}}
            ]}
            """);
        using (var store = Open())
        {
            Assert.Equal(new[] { A, D }.Select(n => n.ToString()).Order(), store.Active().Select(b => b.Network.ToString()).Order());
        }

        Assert.False(File.Exists(Path.Combine(_dir, "blocks.json")));
        Assert.True(File.Exists(Path.Combine(_dir, "blocks.json.imported")));
        var notice = Assert.Single(_notices);
        Assert.Equal(BlockStoreNoticeKind.Imported, notice.Kind);
        Assert.Contains("imported 2 blocks", notice.Message, StringComparison.Ordinal);
        Assert.Contains("skipped 5 damaged entries", notice.Message, StringComparison.Ordinal);

        _notices.Clear();
        using var again = Open();
        Assert.Equal(2, again.Count);
        Assert.Empty(_notices);
    }

    [Fact]
    public void Open_LegacyJsonNotJson_StartsEmptyAndKeepsTheFileAsDamaged()
    {
        Directory.CreateDirectory(_dir);
        File.WriteAllText(Path.Combine(_dir, "blocks.json"), "{\"blocks\": [");
        using var store = Open();
        Assert.Equal(0, store.Count);
        Assert.True(File.Exists(Path.Combine(_dir, "blocks.json.damaged")));
    }

    [Fact]
    public void Open_DamagedRecords_SkippedWithANoticeAndRemoved()
    {
        using (var store = Open())
        {
            store.Commit([(A, _time.GetUtcNow().AddMinutes(10))]);
        }

        using (var db = new SqliteConnection($"Data Source={Path.Combine(_dir, BlockStore.DatabaseName)};Pooling=False"))
        {
            db.Open();
            using var insert = db.CreateCommand();
            var until = _time.GetUtcNow().AddMinutes(10).ToUnixTimeMilliseconds();
            insert.CommandText = $"""
                INSERT INTO blocks (addr, prefix, expires_ms) VALUES (x'C6120002', 32, 99999999999999999);  -- expiry no block could have
                INSERT INTO blocks (addr, prefix, expires_ms) VALUES (x'C61200', 24, {until});              -- three address bytes
                INSERT INTO blocks (addr, prefix, expires_ms) VALUES (x'C6120003', 33, {until});            -- prefix longer than the address
                INSERT INTO blocks (addr, prefix, expires_ms) VALUES ('198.18.0.4', 32, {until});           -- text, not address bytes
                INSERT INTO blocks (addr, prefix, expires_ms) VALUES (x'C6120005', 32, 'tomorrow');         -- text expiry
                INSERT INTO blocks (addr, prefix, expires_ms) VALUES (x'C6120701', 24, {until});            -- host bits under the prefix
                """;
            insert.ExecuteNonQuery();
        }

        _notices.Clear();
        using (var store = Open())
        {
            Assert.Equal(1, store.Count);
            Assert.Equal([A], store.Active().Select(b => b.Network));
        }

        var notice = Assert.Single(_notices);
        Assert.Equal(BlockStoreNoticeKind.DamagedRecords, notice.Kind);
        Assert.Contains("skipped 6 damaged records", notice.Message, StringComparison.Ordinal);

        _notices.Clear();
        using var clean = Open();
        Assert.Equal(1, clean.Count);
        Assert.Empty(_notices);
    }

    [Fact]
    public void Open_FileThatIsNotADatabase_MovedAsideAndANewOneStarted()
    {
        Directory.CreateDirectory(_dir);
        File.WriteAllText(Path.Combine(_dir, BlockStore.DatabaseName), new string('x', 8192));
        using var store = Open();
        Assert.Null(store.Commit([(A, _time.GetUtcNow().AddMinutes(1))]));
        Assert.Equal(1, store.Count);
        Assert.Equal(BlockStoreNoticeKind.DamagedDatabase, Assert.Single(_notices).Kind);
        Assert.Single(Directory.GetFiles(_dir, BlockStore.DatabaseName + ".damaged-*"));
    }

    // Issue 14 item 4: in a state_dir writable by others, a planted symlink let a local user overwrite any file as root.
    [Fact]
    public void Open_StateDirWritableByOthers_RefusedAndKeptInMemory()
    {
        Directory.CreateDirectory(_dir);
        File.SetUnixFileMode(_dir, (UnixFileMode)Convert.ToInt32("777", 8));
        var victim = Path.Combine(Path.GetDirectoryName(_dir)!, "victim");
        File.WriteAllText(victim, "precious");
        File.CreateSymbolicLink(Path.Combine(_dir, BlockStore.DatabaseName), victim);

        using (var store = Open())
        {
            Assert.Null(store.Commit([(A, _time.GetUtcNow().AddMinutes(1))]));
            Assert.Equal(1, store.Count);
            Assert.Contains("writable by group or others (mode 0777)", store.NotSaved, StringComparison.Ordinal);
        }

        Assert.Equal("precious", File.ReadAllText(victim));
        Assert.Equal(BlockStoreNoticeKind.UnsafeDirectory, Assert.Single(_notices).Kind);
    }

    [Fact]
    public void Open_SymlinkAtTheDatabase_Refused()
    {
        Directory.CreateDirectory(_dir);
        var victim = Path.Combine(Path.GetDirectoryName(_dir)!, "victim");
        File.WriteAllText(victim, "precious");
        File.CreateSymbolicLink(Path.Combine(_dir, BlockStore.DatabaseName), victim);

        using (var store = Open())
        {
            store.Commit([(A, _time.GetUtcNow().AddMinutes(1))]);
            Assert.Contains("is a symlink, not a regular file", store.NotSaved, StringComparison.Ordinal);
        }

        Assert.Equal("precious", File.ReadAllText(victim));
    }

    [Fact]
    public void Open_MissingStateDir_CreatedOwnerOnly()
    {
        using var store = Open();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_dir));
        Assert.Null(store.NotSaved);
    }

    // Issue 14 item 4: a save that failed was never retried.
    [Fact]
    public void Commit_WhileTheFileIsLocked_BacklogVisibleThenSavedByARetry()
    {
        using var store = Open();
        store.Commit([(A, _time.GetUtcNow().AddMinutes(10))]);
        using (var other = new SqliteConnection($"Data Source={Path.Combine(_dir, BlockStore.DatabaseName)};Pooling=False"))
        {
            other.Open();
            using var locking = other.CreateCommand();
            locking.CommandText = "BEGIN EXCLUSIVE";
            locking.ExecuteNonQuery();

            var error = store.Commit([(B, _time.GetUtcNow().AddMinutes(10)), (C, _time.GetUtcNow().AddMinutes(10))]);
            Assert.Contains("locked", error, StringComparison.Ordinal);
            Assert.True(store.Remove(A));
            Assert.Equal(3, store.Backlog);
            Assert.Equal(2, store.Count);
            Assert.Equal([B, C], store.Active().Select(b => b.Network).OrderBy(n => n.ToString()));
            Assert.Equal(BlockStoreNoticeKind.WriteFailed, Assert.Single(_notices).Kind);

            _time.Advance(TimeSpan.FromSeconds(1)); // a retry while the lock is held fails and is armed again
            Assert.Equal(3, store.Backlog);
            locking.CommandText = "ROLLBACK";
            locking.ExecuteNonQuery();
        }

        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(0, store.Backlog);
        Assert.Null(store.LastError);
        Assert.Equal(BlockStoreNoticeKind.WriteRecovered, _notices[^1].Kind);
        store.Dispose();

        using var reopened = Open();
        Assert.Equal([B, C], reopened.Active().Select(b => b.Network).OrderBy(n => n.ToString()));
    }

    [Fact]
    public void Commit_HundredThousandInBatches_AllBackAfterReopen()
    {
        var blocks = Enumerable.Range(0, 100_000)
            .Select(i => (new IPNetwork(new IPAddress(0xC6120000u + (uint)i is var a ? [(byte)(a >> 24), (byte)(a >> 16), (byte)(a >> 8), (byte)a] : []), 32), _time.GetUtcNow().AddMinutes(10)))
            .ToList();
        using (var store = Open())
        {
            foreach (var batch in blocks.Chunk(4096))
            {
                Assert.Null(store.Commit(batch));
            }
        }

        using var reopened = Open();
        Assert.Equal(100_000, reopened.Count);
        var seen = 0;
        reopened.ForEachActive(chunk => seen += chunk.Count);
        Assert.Equal(100_000, seen);
    }

    // The mark (the kernel state the file vouches for) goes in the same transaction as the blocks or the removal it
    // comes with, survives a reopen, and is never written while blocks wait in the backlog (the file then lacks some).
    [Fact]
    public void Mark_WrittenWithItsBlocksAndRemovals_NotWhileTheBacklogWaits_ReadBackOnPrepare()
    {
        var first = new KernelMark("boot:net", 7);
        var second = new KernelMark("boot:net", 8);
        using (var store = Open())
        {
            Assert.Null(store.Mark);
            Assert.Null(store.Commit([(A, _time.GetUtcNow().AddMinutes(10)), (B, _time.GetUtcNow().AddMinutes(10))], mark: first));
            Assert.Equal(first, store.Mark);
            Assert.True(store.Remove(A, second));
            Assert.Equal(second, store.Mark);
        }

        using (var reopened = new BlockStore(_dir, 1 << 20, _time, _notices.Add))
        {
            reopened.Prepare();
            Assert.Equal(second, reopened.Mark);
            reopened.OpenCounted();
            Assert.Equal(1, reopened.Count);
            Assert.Equal(1, reopened.CountOf(v4: true, host: false));

            using (var other = new SqliteConnection($"Data Source={Path.Combine(_dir, BlockStore.DatabaseName)};Pooling=False"))
            {
                other.Open();
                using var locking = other.CreateCommand();
                locking.CommandText = "BEGIN EXCLUSIVE";
                locking.ExecuteNonQuery();
                Assert.NotNull(reopened.Commit([(C, _time.GetUtcNow().AddMinutes(10))], mark: new KernelMark("boot:net", 9)));
                locking.CommandText = "ROLLBACK";
                locking.ExecuteNonQuery();
            }

            reopened.Record(new KernelMark("boot:net", 10)); // C waits in the backlog: not written
            Assert.Equal(second, reopened.Mark);
            _time.Advance(TimeSpan.FromMinutes(1)); // the retry saves C, without a mark
            Assert.Equal(0, reopened.Backlog);
            reopened.Record(null);
            Assert.Null(reopened.Mark);
        }

        using var again = Open();
        Assert.Null(again.Mark);
        Assert.Equal([B, C], again.Active().Select(b => b.Network).OrderBy(n => n.ToString()));
    }

    private BlockStore Open(int maxBlocks = 1 << 20)
    {
        var store = new BlockStore(_dir, maxBlocks, _time, _notices.Add);
        store.Open();
        return store;
    }
}
