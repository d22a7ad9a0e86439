using Shaper.Limiting;

namespace Shaper.Tests.Limiting;

/// <summary>
/// The sliding log's <see cref="SlidingLogLimiter.Force"/> against a log written here that keeps every entry: a full
/// ring drops its oldest entry for a forced one, and still decides, arrival by arrival, as the log that kept them all.
/// </summary>
public sealed class SlidingLogForceTests
{
    private const long Ms = 1_000_000;
    private const long Window = 1_000 * Ms;
    private const int Limit = 5;

    [Theory]
    [InlineData(1)] // seeds: independent random patterns of arrivals and forced arrivals
    [InlineData(2)]
    [InlineData(3)]
    public void ForcedArrivals_DecideAndRetryAsALogThatKeptEveryEntry(int seed)
    {
        var random = new Random(seed);
        var limiter = new SlidingLogLimiter(Limit, TimeSpan.FromTicks(Window / 100), maxKeys: 1);
        var state = default(SlidingLogState);
        limiter.Initialize(ref state, 0);
        var kept = new List<long>();
        var now = 0L;
        var forced = 0;
        var refused = 0;
        for (var i = 0; i < 5_000; i++)
        {
            now += random.Next(0, 120) * Ms;
            kept.RemoveAll(t => now - t >= Window);
            if (random.Next(4) == 0)
            {
                limiter.Force(ref state, now, 1);
                kept.Add(now);
                forced++;
                continue;
            }

            var decision = limiter.Acquire(ref state, now, 1);
            if (kept.Count < Limit)
            {
                Assert.Equal(LimitOutcome.Passed, decision.Outcome);
                kept.Add(now);
                continue;
            }

            // Under the limit again once all but limit − 1 entries have left: the (count − limit + 1)th oldest.
            refused++;
            Assert.Equal(LimitOutcome.Limited, decision.Outcome);
            Assert.Equal(kept[kept.Count - Limit] + Window - now, decision.DelayNs);
        }

        Assert.True(forced > 1_000 && refused > 500, $"the pattern forced {forced} and refused {refused}");
    }
}
