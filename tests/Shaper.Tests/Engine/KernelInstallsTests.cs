using Shaper.Engine;

namespace Shaper.Tests.Engine;

/// <summary>The record of install rounds the engines read to tell whether the kernel already had a held key.</summary>
public sealed class KernelInstallsTests
{
    private const long Ms = 1_000_000;

    [Fact]
    public void InBy_NoRoundCoversTheRaise_NotIn()
    {
        var installs = new KernelInstalls();
        Assert.False(installs.InBy(100 * Ms, 500 * Ms));

        installs.Report(90 * Ms, 95 * Ms); // holds raised up to 90 ms
        Assert.False(installs.InBy(100 * Ms, 500 * Ms));
    }

    [Fact]
    public void InBy_TheEarliestRoundCoveringTheRaise_PutItInWhenItAnswered()
    {
        var installs = new KernelInstalls();
        installs.Report(90 * Ms, 95 * Ms);
        installs.Report(100 * Ms, 104 * Ms); // carried the hold raised at 100 ms, answered at 104 ms
        installs.Report(110 * Ms, 120 * Ms);

        Assert.False(installs.InBy(100 * Ms, 103 * Ms));
        Assert.True(installs.InBy(100 * Ms, 104 * Ms));
        Assert.True(installs.InBy(95 * Ms, 104 * Ms)); // raised between two rounds' marks: in the later one
        Assert.False(installs.InBy(105 * Ms, 119 * Ms));
        Assert.True(installs.InBy(105 * Ms, 120 * Ms));
    }

    [Fact]
    public void InBy_HoldRaisedEarlierReportedLater_TakenAsInTheRoundThatFirstCoveredItsRaise()
    {
        // Two capture threads: one's hold raised at 100 ms reached the install thread after the other's raised at 120 ms.
        var installs = new KernelInstalls();
        installs.Report(120 * Ms, 125 * Ms);
        installs.Report(100 * Ms, 140 * Ms);

        Assert.True(installs.InBy(100 * Ms, 130 * Ms));
        Assert.False(installs.InBy(121 * Ms, 139 * Ms)); // the second round's mark stays at 120 ms: it covers no later raise
    }

    [Fact]
    public void InBy_RoundOlderThanTheRingRemembers_In()
    {
        var installs = new KernelInstalls();
        for (var round = 1L; round <= 2000; round++)
        {
            installs.Report(round * Ms, (round * Ms) + 500_000);
        }

        Assert.True(installs.InBy(5 * Ms, 5 * Ms));
        Assert.False(installs.InBy(1999 * Ms, 1999 * Ms));
        Assert.True(installs.InBy(1999 * Ms, 2000 * Ms));
    }
}
