using Shaper.Limiting;

namespace Shaper.Tests.Limiting;

/// <summary>Token bucket, 10/s, burst 5: at most burst + rate × t in any interval of length t.</summary>
public sealed class TokenBucketContractTests : LimiterContractTests<TokenBucketState, TokenBucketLimiter>
{
    protected override TokenBucketLimiter Create() => new(Rate.PerSecondOf(10), 5);

    protected override long InitialAllowance => 5;

    protected override long MaxAccepted(long intervalNs) => 5 + (10 * intervalNs / Second);
}

/// <summary>Leaky meter (GCRA), 10/s, burst 5: the same bound as the token bucket.</summary>
public sealed class LeakyMeterContractTests : LimiterContractTests<LeakyMeterState, LeakyMeterLimiter>
{
    protected override LeakyMeterLimiter Create() => new(Rate.PerSecondOf(10), 5);

    protected override long InitialAllowance => 5;

    protected override long MaxAccepted(long intervalNs) => 5 + (10 * intervalNs / Second);
}

/// <summary>Leaky queue, 10/s, queue 5: one passes and five wait at once; then one per 100 ms.</summary>
public sealed class LeakyQueueContractTests : LimiterContractTests<LeakyQueueState, LeakyQueueLimiter>
{
    protected override LeakyQueueLimiter Create() => new(Rate.PerSecondOf(10), 5);

    protected override long InitialAllowance => 6;

    protected override long MaxAccepted(long intervalNs) => 6 + (10 * intervalNs / Second);

    protected override bool CostCounts => false;
}

/// <summary>Fixed window, 5 per second: an interval touches at most length/window + 2 windows.</summary>
public sealed class FixedWindowContractTests : LimiterContractTests<FixedWindowState, FixedWindowLimiter>
{
    protected override FixedWindowLimiter Create() => new(5, TimeSpan.FromSeconds(1));

    protected override long InitialAllowance => 5;

    protected override long MaxAccepted(long intervalNs) => 5 * ((intervalNs / Second) + 2);
}

/// <summary>Sliding log, 5 per second: at most 5 in any window, so limit × (length/window + 1) in a closed interval.</summary>
public sealed class SlidingLogContractTests : LimiterContractTests<SlidingLogState, SlidingLogLimiter>
{
    protected override SlidingLogLimiter Create() => new(5, TimeSpan.FromSeconds(1), maxKeys: 4);

    protected override long InitialAllowance => 5;

    protected override long MaxAccepted(long intervalNs) => 5 * ((intervalNs / Second) + 1);

    protected override bool CostCounts => false;
}

/// <summary>Sliding window counter, 5 per second: never more than the limit in one aligned window.</summary>
public sealed class SlidingWindowContractTests : LimiterContractTests<SlidingWindowState, SlidingWindowLimiter>
{
    protected override SlidingWindowLimiter Create() => new(5, TimeSpan.FromSeconds(1));

    protected override long InitialAllowance => 5;

    protected override long MaxAccepted(long intervalNs) => 5 * ((intervalNs / Second) + 2);
}
