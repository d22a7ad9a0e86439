using System.Net;
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
            (batch, error, _) =>
            {
                lock (committed)
                {
                    committed.Add((batch.Count, error));
                    detected.AddRange(batch.Select(b => b.DetectedNs));
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
        (IReadOnlyList<BlockRequest> Batch, string? Error)? heard = null;
        using var committed = new ManualResetEventSlim();
        using (var batcher = new BlockBatcher(_ => "nft said no", (batch, error, _) => { heard = ([.. batch], error); committed.Set(); }))
        {
            batcher.Add(new(Host(1), TimeSpan.FromMinutes(1), "r", 5));
            Assert.True(committed.Wait(TimeSpan.FromSeconds(10)));
        }

        Assert.Equal("nft said no", heard!.Value.Error);
        Assert.Equal([new BlockRequest(Host(1), TimeSpan.FromMinutes(1), "r", 5)], heard.Value.Batch);
    }
}
