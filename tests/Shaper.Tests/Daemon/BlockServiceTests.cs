using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Shaper.Daemon;
using Shaper.Firewall;
using Shaper.Packets;

namespace Shaper.Tests.Daemon;

/// <summary>The daemon's block service on a clock the test moves: what is acknowledged, listed, swept and refused. No root needed.</summary>
public sealed class BlockServiceTests
{
    private static readonly IPNetwork A = IPNetwork.Parse("198.18.0.1/32");
    private static readonly IPNetwork B = IPNetwork.Parse("198.18.7.0/24");

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task AddAsync_BackendNone_ListedWithItsTimeLeftThenSweptWhenItEnds()
    {
        using var blocks = Service(null, maxBlocks: 10);

        Assert.Null(await blocks.AddAsync(A, TimeSpan.FromMinutes(1)));
        Assert.Equal(["198.18.0.1/32 expires in 60s"], blocks.List());

        _time.Advance(TimeSpan.FromSeconds(45));
        Assert.Equal(["198.18.0.1/32 expires in 15s"], blocks.List());

        _time.Advance(TimeSpan.FromSeconds(16)); // over, and the sweep (every 0.5 s) has run since
        Assert.Empty(blocks.List());
        Assert.Equal(0, blocks.Count);
    }

    [Fact]
    public async Task AddAsync_AtMaxBlocks_RefusedWithTheReasonAndTheFix()
    {
        using var blocks = Service(null, maxBlocks: 1);
        Assert.Null(await blocks.AddAsync(A, TimeSpan.FromMinutes(1)));

        var refused = await blocks.AddAsync(B, TimeSpan.FromMinutes(1));

        Assert.StartsWith("refused: 1 blocks are in force, the most max_blocks = 1 allows; remove some with 'shaperctl block del' or raise max_blocks", refused, StringComparison.Ordinal);
        Assert.Null(await blocks.AddAsync(A, TimeSpan.FromMinutes(5))); // the same network again replaces it, over the cap or not
        Assert.Equal(["198.18.0.1/32 expires in 300s"], blocks.List());
    }

    [Fact]
    public void Post_ObserveRuleOverMaxBlocks_CountedNotBlocked()
    {
        using var blocks = Service(null, maxBlocks: 1);

        blocks.Post("r", IpFamily.V4, 0xC6120001, 32, 60_000_000_000, 0);
        blocks.Post("r", IpFamily.V4, 0xC6120002, 32, 60_000_000_000, 0);

        Assert.Equal(1, blocks.Count);
        Assert.Equal(1, blocks.OverCap);
    }

    [Fact]
    public async Task AddAsync_KernelRefuses_AnsweredWithItsReasonAndNotRecorded()
    {
        var backend = new FakeBackend { Refusal = "Error: Could not process rule: No space left on device" };
        using var blocks = Service(backend, maxBlocks: 10);

        var error = await blocks.AddAsync(A, TimeSpan.FromMinutes(1));

        Assert.Contains("No space left on device", error, StringComparison.Ordinal);
        Assert.Equal(0, blocks.Count);
        Assert.Equal(1, blocks.Refused.Count);
    }

    [Fact]
    public async Task Remove_KernelFails_TheBlockStays()
    {
        var backend = new FakeBackend();
        using var blocks = Service(backend, maxBlocks: 10);
        Assert.Null(await blocks.AddAsync(A, TimeSpan.FromMinutes(1)));
        Assert.Contains(A, backend.Added);

        backend.Refusal = "Error: Operation not permitted";
        Assert.Equal((true, "Error: Operation not permitted"), blocks.Remove(A));
        Assert.Equal(1, blocks.Count);

        backend.Refusal = null;
        Assert.Equal((true, (string?)null), blocks.Remove(A));
        Assert.Equal(0, blocks.Count);
        Assert.Equal((false, (string?)null), blocks.Remove(A));
    }

    // A restore keeps both CPUs of a small host busy, and only the kernel inserts are on its way to the end: the thread
    // that sends goes ahead of the one that reads, which gets its own nice value back afterwards.
    [Fact]
    public async Task Reinstall_TheSenderGoesAheadOfTheReader_AndTheReaderGetsItsNiceBack()
    {
        var backend = new FakeBackend();
        var store = new ReadNiceStore(new BlockStore(null, 10, _time));
        using var blocks = new BlockService(backend, store, NullLogger.Instance, _time);
        blocks.Restore();
        Assert.Null(await blocks.AddAsync(A, TimeSpan.FromMinutes(1)));
        backend.AddedAtNice.Clear();

        int before = 0, after = 0, given = 0;
        var reader = new Thread(() =>
        {
            before = Shaper.Threading.ThreadNice.Get();
            given = blocks.Reinstall();
            after = Shaper.Threading.ThreadNice.Get();
        });
        reader.Start();
        reader.Join();

        Assert.Equal(1, given);
        Assert.Equal(before, after);
        var sender = Assert.Single(backend.AddedAtNice);
        var allowed = Shaper.Threading.ThreadNice.Probe(Shaper.Threading.ThreadNice.EnforcementPath) is null;
        Assert.Equal(allowed ? Shaper.Threading.ThreadNice.EnforcementPath : before, sender);
        Assert.Equal(allowed ? 5 : before, Assert.Single(store.ReadAtNice)); // lowered only where it could be raised back
    }

    /// <summary>A block store that remembers the nice value of the thread reading it out, chunk by chunk.</summary>
    private sealed class ReadNiceStore(IBlockStore inner) : IBlockStore
    {
        public List<int> ReadAtNice { get; } = [];

        public int Count => inner.Count;

        public int MaxBlocks => inner.MaxBlocks;

        public int Backlog => inner.Backlog;

        public string? LastError => inner.LastError;

        public string? NotSaved => inner.NotSaved;

        public KernelMark? Mark => inner.Mark;

        public int Imported => inner.Imported;

        public void ForEachActive(Action<PackedBlocks> chunk) =>
            inner.ForEachActive(read =>
            {
                ReadAtNice.Add(Shaper.Threading.ThreadNice.Get());
                chunk(read);
            });

        public void Open(Action<PackedBlocks>? restore = null) => inner.Open(restore);

        public bool TryReserve(IPNetwork network, bool exact) => inner.TryReserve(network, exact);

        public void Release(int count) => inner.Release(count);

        public string? Commit(IReadOnlyList<(IPNetwork Network, DateTimeOffset Until)> blocks, IReadOnlyList<string?>? sources = null, KernelMark? mark = null) => inner.Commit(blocks, sources, mark);

        public string? SourceOf(IPNetwork network) => inner.SourceOf(network);

        public Dictionary<IPNetwork, string> Sources() => inner.Sources();

        public void OpenCounted() => inner.OpenCounted();

        public void Prepare() => inner.Prepare();

        public void Record(KernelMark? mark) => inner.Record(mark);

        public bool Contains(IPNetwork network) => inner.Contains(network);

        public TimeSpan? LeftOf(IPNetwork network) => inner.LeftOf(network);

        public bool Remove(IPNetwork network, KernelMark? mark = null) => inner.Remove(network, mark);

        public List<(IPNetwork Network, TimeSpan Left)> Active(bool prefixesOnly = false) => inner.Active(prefixesOnly);

        public long CountOf(bool v4, bool host) => inner.CountOf(v4, host);

        public int Sweep() => inner.Sweep();

        public string? Close() => inner.Close();

        public void Dispose() => inner.Dispose();
    }

    private BlockService Service(IFirewallBackend? backend, int maxBlocks)
    {
        var blocks = new BlockService(backend, new BlockStore(null, maxBlocks, _time), NullLogger.Instance, _time);
        blocks.Restore();
        return blocks;
    }

    /// <summary>A kernel that takes every block (or refuses with <see cref="Refusal"/>), and remembers what it took.</summary>
    internal sealed class FakeBackend : IFirewallBackend
    {
        public string? Refusal { get; set; }

        public bool Installed { get; set; } = true;

        public List<IPNetwork> Added { get; } = [];

        /// <summary>The nice value of the thread that called <see cref="AddBlocks"/>, call by call.</summary>
        public List<int> AddedAtNice { get; } = [];

        public int Reinstalls { get; private set; }

        public Shaper.Plan.EnforcementPlan? Applied => null;

        public bool Adopt() => false;

        public string? Apply(Shaper.Plan.EnforcementPlan plan) => Refusal;

        public bool IsInstalled() => Installed;

        public string? Reinstall()
        {
            Reinstalls++;
            Installed = true;
            return Refusal;
        }

        public string? AddBlocks(IEnumerable<(IPNetwork Network, TimeSpan Ttl)> blocks)
        {
            if (Refusal is not null)
            {
                return Refusal;
            }

            lock (Added)
            {
                Added.AddRange(blocks.Where(b => b.Ttl > TimeSpan.Zero).Select(b => b.Network));
                AddedAtNice.Add(Shaper.Threading.ThreadNice.Get());
            }

            return null;
        }

        public void WarmUp()
        {
        }

        public string? RemoveBlock(IPNetwork network) => Refusal;

        public string? ExpireBlocks() => null;

        public List<(string Rule, long Passed, long Limited)> RuleCounters() => [];

        public void Remove()
        {
        }
    }
}
