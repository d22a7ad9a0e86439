using System.Net;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using Shaper.Firewall;

namespace Shaper.Tests.Firewall;

/// <summary>The block store keeps who decided each block beside it: on disk, through a restart, in the backlog.</summary>
public sealed class BlockStoreSourceTests : IDisposable
{
    private static readonly IPNetwork A = IPNetwork.Parse("198.18.0.1/32");
    private static readonly IPNetwork B = IPNetwork.Parse("2001:db8::/64");
    private static readonly IPNetwork C = IPNetwork.Parse("198.18.7.0/24");

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly string _dir = Directory.CreateTempSubdirectory("shaper-sources-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Commit_WithSources_KeptThroughARestart_NullKeepsTheEarlierOne_ALaterOneReplacesIt()
    {
        var until = _time.GetUtcNow().AddMinutes(10);
        using (var store = new BlockStore(_dir, 100, _time))
        {
            store.Open();
            Assert.Null(store.Commit([(A, until), (B, until), (C, until)], ["manual", "rule:ssh-new", null]));
            Assert.Equal("manual", store.SourceOf(A));
            Assert.Null(store.SourceOf(C)); // none given: unknown

            // A re-install (the restore path) gives no source: the block keeps its own. A new block replaces it.
            store.Commit([(A, until.AddMinutes(1))]);
            store.Commit([(B, until)], ["fleet:web-2"]);
        }

        using var reopened = new BlockStore(_dir, 100, _time);
        reopened.Open();
        Assert.Equal("manual", reopened.SourceOf(A));
        Assert.Equal("fleet:web-2", reopened.SourceOf(B));
        Assert.Equal(new Dictionary<IPNetwork, string> { [A] = "manual", [B] = "fleet:web-2" }, reopened.Sources());

        // A removed block has no source any more.
        reopened.Remove(A);
        Assert.Null(reopened.SourceOf(A));
        Assert.False(reopened.Sources().ContainsKey(A));
    }

    [Fact]
    public void Open_StoreFromBeforeSources_GainsTheColumn_ItsBlocksHaveNone()
    {
        // The table as stores before this change made it, with one block.
        var path = Path.Combine(_dir, BlockStore.DatabaseName);
        using (var db = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            db.Open();
            using var create = db.CreateCommand();
            create.CommandText = """
                CREATE TABLE blocks (addr BLOB NOT NULL, prefix INTEGER NOT NULL, expires_ms INTEGER NOT NULL, PRIMARY KEY (addr, prefix)) WITHOUT ROWID;
                INSERT INTO blocks VALUES (x'C6120001', 32, $e);
                """;
            create.Parameters.AddWithValue("$e", _time.GetUtcNow().AddMinutes(10).ToUnixTimeMilliseconds());
            create.ExecuteNonQuery();
        }

        using var store = new BlockStore(_dir, 100, _time);
        var restored = new List<IPNetwork>();
        store.Open(chunk => restored.AddRange(chunk.Select(b => b.Network)));
        Assert.Equal([A], restored);
        Assert.Null(store.SourceOf(A));

        Assert.Null(store.Commit([(B, _time.GetUtcNow().AddMinutes(10))], ["rule:r1"]));
        Assert.Equal("rule:r1", store.SourceOf(B));
    }

    [Fact]
    public void Commit_WhileTheFileIsLocked_SourceWaitsInTheBacklog_ThenIsSavedWithItsBlock()
    {
        using (var store = new BlockStore(_dir, 100, _time))
        {
            store.Open();
            using (var other = new SqliteConnection($"Data Source={Path.Combine(_dir, BlockStore.DatabaseName)};Pooling=False"))
            {
                other.Open();
                using var locking = other.CreateCommand();
                locking.CommandText = "BEGIN EXCLUSIVE";
                locking.ExecuteNonQuery();

                Assert.NotNull(store.Commit([(A, _time.GetUtcNow().AddMinutes(10))], ["rule:r1"]));
                Assert.Equal(1, store.Backlog);
                Assert.Equal("rule:r1", store.SourceOf(A));
                locking.CommandText = "ROLLBACK";
                locking.ExecuteNonQuery();
            }

            _time.Advance(TimeSpan.FromMinutes(1)); // the retry saves the backlog
            Assert.Equal(0, store.Backlog);
        }

        using var reopened = new BlockStore(_dir, 100, _time);
        reopened.Open();
        Assert.Equal("rule:r1", reopened.SourceOf(A));
    }
}
