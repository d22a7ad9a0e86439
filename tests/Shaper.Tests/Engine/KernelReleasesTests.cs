using Shaper.Engine;

namespace Shaper.Tests.Engine;

/// <summary>The record of release rounds the engines read to tell whether the kernel still stopped a key's packet.</summary>
public sealed class KernelReleasesTests
{
    private const long Ms = 1_000_000;

    [Fact]
    public void StillStops_NoRoundYet_UntilTheElementTimesOut()
    {
        var releases = new KernelReleases(20 * Ms);

        Assert.True(releases.StillStops(100 * Ms, 119 * Ms));
        Assert.False(releases.StillStops(100 * Ms, 120 * Ms));
    }

    [Fact]
    public void StillStops_TheEarliestRoundReachingTheHoldsEnd_IsTheOneThatTookTheKeyOut()
    {
        var releases = new KernelReleases(20 * Ms);
        releases.Report(90 * Ms, 95 * Ms);   // before the hold ended: not this one
        releases.Report(101 * Ms, 104 * Ms); // took the key out, answered at 104 ms
        releases.Report(110 * Ms, 111 * Ms); // a later round

        Assert.True(releases.StillStops(100 * Ms, 103 * Ms));
        Assert.False(releases.StillStops(100 * Ms, 104 * Ms));
        Assert.True(releases.StillStops(105 * Ms, 110 * Ms)); // a hold ending at 105 ms went out in the last round
        Assert.True(releases.StillStops(115 * Ms, 130 * Ms)); // no round reached 115 ms yet: its timeout has not run out
    }

    [Fact]
    public void StillStops_RoundThatAnsweredBeforeTheHoldsEnd_KeyIsOutFromItsAnswer()
    {
        var releases = new KernelReleases(20 * Ms);
        releases.Report(100 * Ms, 99_900_000); // started ahead of the end of a hold ending at 100 ms, answered at 99.9 ms

        Assert.True(releases.StillStops(100 * Ms, 99_800_000)); // before the answer: stopped
        Assert.False(releases.StillStops(100 * Ms, 99_950_000)); // after it, though before the end: let in
        Assert.True(releases.StillStops(101 * Ms, 100_500_000)); // a hold ending later was not in that round
    }

    [Fact]
    public void StillStops_RoundOlderThanTheRingRemembers_KeyIsOut()
    {
        var releases = new KernelReleases(20 * Ms);
        for (var round = 0L; round < 2000; round++)
        {
            releases.Report((round + 1) * Ms, (round + 1) * Ms + 500_000);
        }

        // The hold ended at 2 ms; the ring's oldest round is far later: its round went long ago.
        Assert.False(releases.StillStops(2 * Ms, 1500 * Ms));
    }
}
