using Shaper.Threading;

namespace Shaper.Tests.Threading;

public sealed class RealtimeBudgetTests
{
    private const long Ms = 1_000_000;

    [Fact]
    public void BusyOverAWindow_StepsDown_OnceTheWindowEnds()
    {
        var budget = new RealtimeBudget(0, 0);

        // 90 of 99 ms busy: the window has not ended, nothing changes yet.
        Assert.False(budget.Check(99 * Ms, 90 * Ms));
        Assert.True(budget.Realtime);

        Assert.True(budget.Check(100 * Ms, 91 * Ms));
        Assert.False(budget.Realtime);
        Assert.Equal(1, budget.StepDowns);
    }

    [Fact]
    public void LightOverAWindow_StaysRealtime()
    {
        var budget = new RealtimeBudget(0, 0);

        // Exactly half a CPU is not over half.
        Assert.False(budget.Check(100 * Ms, 50 * Ms));
        Assert.False(budget.Check(200 * Ms, 60 * Ms));
        Assert.True(budget.Realtime);
        Assert.Equal(0, budget.StepDowns);
    }

    [Fact]
    public void EachWindowCountsOnlyItsOwnCpu()
    {
        var budget = new RealtimeBudget(0, 0);
        Assert.False(budget.Check(100 * Ms, 10 * Ms));

        // 60 ms busy in the second window alone: over half of it, though 70 of 200 ms over both.
        Assert.True(budget.Check(200 * Ms, 70 * Ms));
        Assert.False(budget.Realtime);
    }

    [Fact]
    public void SteppedDown_StepsUpOnlyAfterACalmSecond()
    {
        var budget = new RealtimeBudget(0, 0);
        Assert.True(budget.Check(100 * Ms, 100 * Ms));

        // Light at once, but the calm window is a second long.
        Assert.False(budget.Check(600 * Ms, 100 * Ms));
        Assert.False(budget.Realtime);
        Assert.Equal(1_100 * Ms, budget.NextCheckNs);

        Assert.True(budget.Check(1_100 * Ms, 150 * Ms));
        Assert.True(budget.Realtime);
        Assert.Equal(1_200 * Ms, budget.NextCheckNs);
    }

    [Fact]
    public void SteppedDown_StaysDownWhileStillBusy()
    {
        var budget = new RealtimeBudget(0, 0);
        Assert.True(budget.Check(100 * Ms, 60 * Ms));

        // A fifth of a CPU over the calm second is not under a fifth.
        Assert.False(budget.Check(1_100 * Ms, 260 * Ms));
        Assert.False(budget.Realtime);
        Assert.False(budget.Check(2_100 * Ms, 1_000 * Ms));
        Assert.False(budget.Realtime);

        Assert.True(budget.Check(3_100 * Ms, 1_100 * Ms));
        Assert.True(budget.Realtime);
        Assert.Equal(1, budget.StepDowns);
    }

    [Fact]
    public void ALateCheck_MeasuresTheWholeTimeSinceTheLast()
    {
        var budget = new RealtimeBudget(0, 0);

        // Checked after 1 s (the thread slept in the kernel meanwhile): 300 ms of CPU over it is light.
        Assert.False(budget.Check(1_000 * Ms, 300 * Ms));
        Assert.True(budget.Realtime);
    }
}
