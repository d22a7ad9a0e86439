namespace Shaper.Tests.Engine;

/// <summary>
/// What the current thread allocates while code runs, measured in rounds: a round that allocates nothing shows the
/// steady state. Code that allocated per packet or per frame would do so in every round, while the runtime's own
/// one-time work (a method promoted mid-measurement) can land in one: once each in CI runs with the suite around
/// them, 8,016 bytes in the single round of 10,000 held packets, 1,296 in the single round of 1,000 parser passes, and
/// 1,008 in the single round of 300,000 decisions of a sliding-window rule.
/// </summary>
internal static class Allocations
{
    /// <summary>The bytes the current thread allocated in each of <paramref name="rounds"/> runs of <paramref name="round"/>.</summary>
    public static long[] PerRound(Action round, int rounds = 3)
    {
        var allocated = new long[rounds];
        for (var i = 0; i < rounds; i++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            round();
            allocated[i] = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        return allocated;
    }
}
