using System.Net;
using Microsoft.Extensions.Time.Testing;
using Shaper.Firewall;

namespace Shaper.Tests.Firewall;

public sealed class BlockBatcherTests
{
    private static IPNetwork Host(int i) => new(new IPAddress([198, 18, 1, (byte)i]), 32);

    [Fact]
    public void Add_WhileACommandRuns_GoesInTheNextCommandTogether()
    {
        var commands = new List<int>();
        var committed = new List<(int Count, string? Error)>();
        var detected = new List<long>();
        using var firstStarted = new ManualResetEventSlim();
        using var releaseFirst = new ManualResetEventSlim();
        using var done = new CountdownEvent(2);
        using (var batcher = new BlockBatcher(
            blocks =>
            {
                lock (commands)
                {
                    commands.Add(blocks.Count);
                }

                firstStarted.Set();
                releaseFirst.Wait();
                return null;
            },
            (batch, _) =>
            {
                lock (committed)
                {
                    committed.Add((batch.Count, batch.Select(b => b.Error).Distinct().Single()));
                    detected.AddRange(batch.Select(b => b.Request.DetectedNs));
                }

                done.Signal();
            }))
        {
            // A lone block goes at once, waiting for nothing.
            batcher.Add(new(Host(0), TimeSpan.FromMinutes(1), "r", 1));
            Assert.True(firstStarted.Wait(TimeSpan.FromSeconds(10)));

            // 100 more while that command runs: one command for all of them once it returns.
            for (var i = 1; i <= 100; i++)
            {
                batcher.Add(new(Host(i), TimeSpan.FromMinutes(1), "r", i + 1));
            }

            releaseFirst.Set();
            Assert.True(done.Wait(TimeSpan.FromSeconds(10)));
            Assert.Equal(2, batcher.Batches);
        }

        Assert.Equal([1, 100], commands);
        Assert.Equal([(1, null), (100, null)], committed);
        Assert.Equal(Enumerable.Range(1, 101).Select(i => (long)i), detected.Order());
    }

    [Fact]
    public void Add_CommandFails_CommitHearsWhyWithItsBlocks()
    {
        IReadOnlyList<BlockOutcome>? heard = null;
        using var committed = new ManualResetEventSlim();
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        using (var batcher = new BlockBatcher(_ => "nft said no", (batch, _) => { heard = [.. batch]; committed.Set(); }, time))
        {
            batcher.Add(new(Host(1), TimeSpan.FromMinutes(1), "r", 5, QueuedNs: 7));
            Assert.True(committed.Wait(TimeSpan.FromSeconds(10)));
        }

        // The batcher stamps when its install thread took the block, for the latency of each hop.
        Assert.Equal([new BlockOutcome(new BlockRequest(Host(1), TimeSpan.FromMinutes(1), "r", 5, QueuedNs: 7, TakenNs: 1_800_000_000L * 1_000_000_000), "nft said no")], heard);
    }

    // Issue 14: one block the kernel refuses must not take the others in its batch with it.
    [Fact]
    public void Add_OneBlockOfABatchRefused_TheOthersAreInAndOnlyItHearsTheReason()
    {
        var bad = Host(37);
        var installed = new HashSet<IPNetwork>();
        var commands = 0;
        var heard = new List<BlockOutcome>();
        using var release = new ManualResetEventSlim();
        using var committed = new ManualResetEventSlim();
        using (var batcher = new BlockBatcher(
            blocks =>
            {
                release.Wait();
                commands++;
                if (blocks.Any(b => b.Network == bad))
                {
                    return "interval overlaps"; // the kernel aborts the whole transaction
                }

                installed.UnionWith(blocks.Select(b => b.Network));
                return null;
            },
            (batch, _) =>
            {
                heard.AddRange(batch);
                if (heard.Count == 100)
                {
                    committed.Set();
                }
            }))
        {
            for (var i = 0; i < 100; i++)
            {
                batcher.Add(new(Host(i), TimeSpan.FromMinutes(1)));
            }

            release.Set();
            Assert.True(committed.Wait(TimeSpan.FromSeconds(10)));
        }

        Assert.Equal([bad], heard.Where(o => o.Error is not null).Select(o => o.Request.Network));
        Assert.Equal("interval overlaps", heard.Single(o => o.Request.Network == bad).Error);
        Assert.Equal(99, installed.Count);
        Assert.DoesNotContain(bad, installed);
        Assert.InRange(commands, 3, 2 + (2 * 8)); // halving: two commands per level of log2(100), in at most two batches
    }
}
