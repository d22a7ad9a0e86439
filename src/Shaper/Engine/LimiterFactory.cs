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
        return rule.Algorithm switch
        {
            AlgorithmKind.TokenBucket =>
                new KeyedRuleLimiter<TokenBucketState, TokenBucketLimiter>(new TokenBucketLimiter(rate, burst), rule.Per, initialCapacity, maxCapacity),
            _ => throw new NotSupportedException($"algorithm {rule.Algorithm} is not wired yet"),
        };
    }
}
