using Shaper.Queue;

namespace Shaper.Tests.Queue;

/// <summary>max_held in packet time, as a replay counts it: packets held from arrival to departure, no more than the cap at once.</summary>
public sealed class HeldTimelineTests
{
    [Fact]
    public void TryHold_AtTheCap_RefusesUntilADepartureIsDue()
    {
        var cap = new HeldTimeline(2);

        Assert.True(cap.TryHold(0, 100));
        Assert.True(cap.TryHold(10, 50));
        Assert.False(cap.TryHold(20, 60)); // two held until 50 and 100
        Assert.False(cap.TryHold(49, 60));
        Assert.True(cap.TryHold(50, 60)); // the one due at 50 has left
        Assert.False(cap.TryHold(59, 70));
        Assert.True(cap.TryHold(100, 200)); // both due by 100 have left
        Assert.True(cap.TryHold(100, 150));
    }
}
