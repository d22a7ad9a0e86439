using Shaper.Limiting;
using Shaper.Rules;

namespace Shaper.Engine;

/// <summary>Builds the in-process limiter of a validated rule.</summary>
internal static class LimiterFactory
{
    /// <summary>
    /// The rule's algorithm over keys of its <c>per</c>, with tables of <paramref name="initialCapacity"/> keys growing
    /// to at most <paramref name="maxCapacity"/> per address family. The validator has already checked that the parameters the algorithm needs are there.
    /// </summary>
    public static KeyedRuleLimiter Create(Rule rule, int initialCapacity, int maxCapacity)
    {
        var rate = rule.Rate?.Rate ?? Rate.PerSecondOf(1);
        var burst = rule.Burst ?? 1;
        var limit = rule.Limit ?? 1;
        var window = rule.Window ?? TimeSpan.FromSeconds(1);
        return rule.Algorithm switch
        {
            AlgorithmKind.TokenBucket =>
                new KeyedRuleLimiter<TokenBucketState, TokenBucketLimiter>(new TokenBucketLimiter(rate, burst), rule.Per, initialCapacity, maxCapacity),
            AlgorithmKind.LeakyBucket when rule.Enforce == EnforceKind.Queue =>
                new KeyedRuleLimiter<LeakyQueueState, LeakyQueueLimiter>(new LeakyQueueLimiter(rate, rule.Queue ?? 0), rule.Per, initialCapacity, maxCapacity),
            AlgorithmKind.LeakyBucket =>
                new KeyedRuleLimiter<LeakyMeterState, LeakyMeterLimiter>(new LeakyMeterLimiter(rate, burst), rule.Per, initialCapacity, maxCapacity),
            AlgorithmKind.FixedWindow =>
                new KeyedRuleLimiter<FixedWindowState, FixedWindowLimiter>(new FixedWindowLimiter(limit, window), rule.Per, initialCapacity, maxCapacity),
            AlgorithmKind.SlidingWindow =>
                new KeyedRuleLimiter<SlidingWindowState, SlidingWindowLimiter>(new SlidingWindowLimiter(limit, window), rule.Per, initialCapacity, maxCapacity),

            // One arena serves every table of the rule (IPv4 and IPv6, or address and port): two tables at most.
            AlgorithmKind.SlidingLog =>
                new KeyedRuleLimiter<SlidingLogState, SlidingLogLimiter>(new SlidingLogLimiter(limit, window, 2 * maxCapacity), rule.Per, initialCapacity, maxCapacity),
            _ => throw new ArgumentOutOfRangeException(nameof(rule), rule.Algorithm, "unknown algorithm"),
        };
    }
}
