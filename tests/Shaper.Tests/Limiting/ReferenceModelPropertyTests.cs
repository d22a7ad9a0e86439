using System.Numerics;
using Shaper.Limiting;

namespace Shaper.Tests.Limiting;

/// <summary>
/// The token bucket and the GCRA meter against plain reference models written here with unbounded
/// integers, decision by decision, over random rates, bursts, costs and arrival patterns.
/// </summary>
public sealed class ReferenceModelPropertyTests
{
    private const long Second = 1_000_000_000;

    /// <summary>A token bucket as the book describes it, in exact arithmetic: tokens × period, refilled by amount per ns.</summary>
    private sealed class ReferenceBucket(long amount, long periodNs, long burst)
    {
        private BigInteger _tokens = (BigInteger)burst * periodNs;
        private long? _last;

        public bool TryTake(long now, long cost)
        {
            if (_last is { } last && now > last)
            {
                _tokens = BigInteger.Min((BigInteger)burst * periodNs, _tokens + ((BigInteger)(now - last) * amount));
            }

            _last = _last is null ? now : Math.Max(_last.Value, now);
            var need = (BigInteger)cost * periodNs;
            if (_tokens < need)
            {
                return false;
            }

            _tokens -= need;
            return true;
        }
    }

    /// <summary>GCRA in its textbook form: a theoretical arrival time, emission interval T = period/amount, tolerance τ = burst × T.</summary>
    private sealed class ReferenceGcra(long amount, long periodNs, long burst)
    {
        // Time is scaled by amount so that T is the whole number periodNs.
        private BigInteger _tat = BigInteger.MinusOne;
        private BigInteger _latest = BigInteger.MinusOne;

        public bool TryTake(long now, long cost)
        {
            var t = (BigInteger)now * amount;
            _latest = _latest < 0 ? t : BigInteger.Max(_latest, t);
            t = _latest;
            var tat = _tat < 0 ? t : BigInteger.Max(_tat, t);
            var newTat = tat + ((BigInteger)cost * periodNs);
            if (newTat - t > (BigInteger)burst * periodNs)
            {
                return false;
            }

            _tat = newTat;
            return true;
        }
    }

    public static TheoryData<int> Seeds() => [.. Enumerable.Range(1, 40)];

    [Theory]
    [MemberData(nameof(Seeds))]
    public void TokenBucket_RandomArrivals_AgreesWithTheReferenceModel(int seed)
    {
        var (amount, period, burst, arrivals) = Scenario(seed);
        var limiter = new TokenBucketLimiter(new Rate(amount, period), burst);
        var state = default(TokenBucketState);
        limiter.Initialize(ref state, arrivals[0].Time);
        var reference = new ReferenceBucket(amount, period, burst);
        for (var i = 0; i < arrivals.Count; i++)
        {
            var (time, cost) = arrivals[i];
            var expected = reference.TryTake(time, cost);
            Assert.True(expected == (limiter.Acquire(ref state, time, cost).Outcome == LimitOutcome.Passed), $"arrival {i} at {time} cost {cost}: reference says {expected}");
        }
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void LeakyMeter_RandomArrivals_AgreesWithTextbookGcra(int seed)
    {
        var (amount, period, burst, arrivals) = Scenario(seed);
        var limiter = new LeakyMeterLimiter(new Rate(amount, period), burst);
        var state = default(LeakyMeterState);
        limiter.Initialize(ref state, arrivals[0].Time);
        var reference = new ReferenceGcra(amount, period, burst);
        for (var i = 0; i < arrivals.Count; i++)
        {
            var (time, cost) = arrivals[i];
            var expected = reference.TryTake(time, cost);
            Assert.True(expected == (limiter.Acquire(ref state, time, cost).Outcome == LimitOutcome.Passed), $"arrival {i} at {time} cost {cost}: reference says {expected}");
        }
    }

    private static (long Amount, long Period, long Burst, List<(long Time, long Cost)> Arrivals) Scenario(int seed)
    {
        var rng = new Random(seed);
        long[] periods = [1, 1_000_000, Second, 60 * Second, 3600 * Second, 86_400 * Second, 7 * Second];
        var period = periods[rng.Next(periods.Length)];
        var amount = rng.Next(4) == 0 ? rng.NextInt64(1, 2_000_000) : rng.NextInt64(1, 1000);
        var burst = rng.NextInt64(1, 2000);
        var bytes = rng.Next(3) == 0;
        var arrivals = new List<(long, long)>();
        var t = 1_700_000_000 * Second + rng.NextInt64(Second);
        var mean = Math.Max(1, period / amount);
        for (var i = 0; i < 3000; i++)
        {
            var cost = bytes ? rng.NextInt64(0, burst + 3) : 1;
            arrivals.Add((t, cost));
            t += rng.Next(8) switch
            {
                < 3 => 0,
                < 6 => rng.NextInt64(Math.Min(mean * 2, long.MaxValue / 4)),
                6 => rng.NextInt64(Math.Min(mean * burst, long.MaxValue / 4)),
                _ => -rng.NextInt64(Second), // now and then time steps back
            };
        }

        return (amount, period, burst, arrivals);
    }
}
