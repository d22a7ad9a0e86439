using Shaper.Tests.Lab;
using Shaper.Threading;

namespace Shaper.Tests.Threading;

public sealed class ThreadNiceTests
{
    [Fact]
    public void Set_OnOneThread_ChangesThatThreadAlone()
    {
        var mine = ThreadNice.Get();
        (string? Error, int After) other = default;
        var thread = new Thread(() => other = (ThreadNice.Set(BlockBatcherNice), ThreadNice.Get()));
        thread.Start();
        thread.Join();

        Assert.Equal((null, BlockBatcherNice), other);
        Assert.Equal(mine, ThreadNice.Get());
    }

    [RootFact]
    public void Set_AheadOfOthersAsRoot_Works()
    {
        (string? Error, int After) seen = default;
        var thread = new Thread(() => seen = (ThreadNice.Set(ThreadNice.EnforcementPath), ThreadNice.Get()));
        thread.Start();
        thread.Join();

        Assert.Equal((null, ThreadNice.EnforcementPath), seen);
    }

    private const int BlockBatcherNice = Shaper.Firewall.BlockBatcher.BookkeepingNice;
}
