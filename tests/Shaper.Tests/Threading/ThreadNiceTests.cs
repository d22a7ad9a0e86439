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

    [RootFact]
    public void SetRealtimeThenSetNormal_AsRoot_MovesTheThreadBetweenPolicies()
    {
        // The calls a capture thread makes to step down from real-time, and its CPU clock, on a real thread.
        (string? Up, int PolicyUp, string? Down, int PolicyDown, int NiceDown, long Cpu)? seen = null;
        var thread = new Thread(() =>
        {
            var up = ThreadNice.SetRealtime(ThreadNice.CapturePath);
            var policyUp = Policy();
            var down = ThreadNice.SetNormal(ThreadNice.EnforcementPath);
            var start = ThreadNice.CpuTimeNs();
            ThreadScheduling.SpendCpu(5);
            seen = (up, policyUp, down, Policy(), ThreadNice.Get(), ThreadNice.CpuTimeNs() - start);
        });
        thread.Start();
        thread.Join();

        Assert.NotNull(seen);
        Assert.Null(seen.Value.Up);
        Assert.Equal(ThreadScheduling.Fifo, seen.Value.PolicyUp);
        Assert.Null(seen.Value.Down);
        Assert.Equal(ThreadScheduling.Other, seen.Value.PolicyDown);
        Assert.Equal(ThreadNice.EnforcementPath, seen.Value.NiceDown);
        Assert.InRange(seen.Value.Cpu, 5_000_000, 1_000_000_000);
    }

    private const int BlockBatcherNice = Shaper.Firewall.BlockBatcher.BookkeepingNice;

    private static int Policy() => ThreadScheduling.Policy(ThreadScheduling.Self);
}
