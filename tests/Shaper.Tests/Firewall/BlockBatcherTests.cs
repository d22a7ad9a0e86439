using System.Net;
using Shaper.Firewall;

namespace Shaper.Tests.Firewall;

public sealed class BlockBatcherTests
{
    private static IPNetwork Host(int i) => new(new IPAddress([198, 18, 1, (byte)i]), 32);

    [Fact]
    public void Add_WhileACommandRuns_GoesInTheNextCommandTogether()
    {
        var batches = new List<int>();
        var installed = new List<long>();
        using var firstStarted = new ManualResetEventSlim();
        using var releaseFirst = new ManualResetEventSlim();
        using var done = new CountdownEvent(101);
        using (var batcher = new BlockBatcher(
            blocks =>
            {
                lock (batches)
                {
                    batches.Add(blocks.Count);
                }

                firstStarted.Set();
                releaseFirst.Wait();
                return null;
            },
            _ => Assert.Fail("no command failed"),
            detected =>
            {
                lock (installed)
                {
                    installed.Add(detected);
                }

                done.Signal();
            }))
        {
            // A lone block goes at once, waiting for nothing.
            batcher.Add(Host(0), TimeSpan.FromMinutes(1), 1);
            Assert.True(firstStarted.Wait(TimeSpan.FromSeconds(10)));

            // 100 more while that command runs: one command for all of them once it returns.
            for (var i = 1; i <= 100; i++)
            {
                batcher.Add(Host(i), TimeSpan.FromMinutes(1), i + 1);
            }

            releaseFirst.Set();
            Assert.True(done.Wait(TimeSpan.FromSeconds(10)));
            Assert.Equal(2, batcher.Batches);
        }

        Assert.Equal([1, 100], batches);
        Assert.Equal(Enumerable.Range(1, 101).Select(i => (long)i), installed.Order());
    }

    [Fact]
    public void Add_CommandFails_ReportsWhyAndRecordsNoLatency()
    {
        string? why = null;
        var installed = 0;
        using var failed = new ManualResetEventSlim();
        using (var batcher = new BlockBatcher(_ => "nft said no", reason => { why = reason; failed.Set(); }, _ => installed++))
        {
            batcher.Add(Host(1), TimeSpan.FromMinutes(1), 5);
            Assert.True(failed.Wait(TimeSpan.FromSeconds(10)));
        }

        Assert.Equal("nft said no", why);
        Assert.Equal(0, installed);
    }
}
