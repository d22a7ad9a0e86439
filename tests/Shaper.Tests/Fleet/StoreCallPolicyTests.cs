using Microsoft.Extensions.Time.Testing;
using Polly.Timeout;
using Shaper.Fleet;

namespace Shaper.Tests.Fleet;

public sealed class StoreCallPolicyTests
{
    private readonly FakeTimeProvider _time = new();

    private static readonly StoreCallOptions NoDelay = new()
    {
        MaxAttempts = 3,
        AttemptTimeout = TimeSpan.FromMilliseconds(250),
        BaseDelay = TimeSpan.Zero,
        MaxDelay = TimeSpan.Zero,
    };

    [Fact]
    public async Task ExecuteAsync_StoreFails_ThreeAttemptsTwoRetriesPaidFromQuota()
    {
        var policy = Policy(NoDelay);
        var attempts = 0;
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => policy.ExecuteAsync<int>(_ =>
        {
            attempts++;
            throw new InvalidOperationException("store down");
        }, CancellationToken.None));

        Assert.Equal("store down", error.Message);
        Assert.Equal(3, attempts);
        Assert.Equal(2, policy.Retries);
        Assert.Equal(RetryQuota.Capacity - (2 * RetryQuota.RetryCost), policy.Quota.Available);
        Assert.Equal(3, policy.Breaker.Snapshot().Failed);
    }

    [Fact]
    public async Task ExecuteAsync_SucceedsOnRetry_RefundsTheRetry()
    {
        var policy = Policy(NoDelay);
        var attempts = 0;
        var result = await policy.ExecuteAsync(_ => ++attempts < 2 ? throw new InvalidOperationException("once") : Task.FromResult(42), CancellationToken.None);
        Assert.Equal(42, result);
        Assert.Equal(RetryQuota.Capacity, policy.Quota.Available);
        Assert.Equal(1, policy.Breaker.Snapshot().Failed);
        Assert.Equal(1, policy.Breaker.Snapshot().Successful);
    }

    [Fact]
    public async Task ExecuteAsync_QuotaSpent_SingleAttempt()
    {
        var policy = Policy(NoDelay);
        while (policy.Quota.TryAcquire(timedOut: false, out _))
        {
        }

        var attempts = 0;
        await Assert.ThrowsAsync<InvalidOperationException>(() => policy.ExecuteAsync<int>(_ =>
        {
            attempts++;
            throw new InvalidOperationException("store down");
        }, CancellationToken.None));

        // No retry storm: with the quota spent, a failing store costs one attempt per call.
        Assert.Equal(1, attempts);
        Assert.Equal(0, policy.Retries);
    }

    [Fact]
    public async Task ExecuteAsync_BreakerOpen_NoAttemptAndNoRetry()
    {
        var policy = Policy(NoDelay);
        policy.Breaker.ForceOpen();
        var attempts = 0;
        var error = await Assert.ThrowsAsync<BreakerOpenException>(() => policy.ExecuteAsync(_ => Task.FromResult(++attempts), CancellationToken.None));
        Assert.Equal(BreakerState.ForcedOpen, error.State);
        Assert.Equal(0, attempts);
        Assert.Equal(RetryQuota.Capacity, policy.Quota.Available);
        Assert.Equal(1, policy.Breaker.Snapshot().NotPermitted);
    }

    [Fact]
    public async Task ExecuteAsync_StoreHangs_EachAttemptTimesOutAndCountsAsFailedAndSlow()
    {
        var policy = Policy(NoDelay);
        var started = 0;
        var call = policy.ExecuteAsync(async ct =>
        {
            Interlocked.Increment(ref started);
            await Task.Delay(Timeout.InfiniteTimeSpan, _time, ct);
            return 0;
        }, CancellationToken.None);

        for (var attempt = 1; attempt <= 3; attempt++)
        {
            await WaitUntil(() => Volatile.Read(ref started) == attempt);
            Assert.False(call.IsCompleted);
            _time.Advance(TimeSpan.FromMilliseconds(250));
        }

        await Assert.ThrowsAsync<TimeoutRejectedException>(() => call);
        Assert.Equal(3, policy.Timeouts);

        // A retry after a timeout costs 10 tokens (botocore TIMEOUT_RETRY_COST).
        Assert.Equal(RetryQuota.Capacity - (2 * RetryQuota.TimeoutRetryCost), policy.Quota.Available);
        var breaker = policy.Breaker.Snapshot();
        Assert.Equal(3, breaker.Failed);
        Assert.Equal(3, breaker.Slow);
    }

    [Fact]
    public async Task ExecuteAsync_RetryDelays_AreFullJitterUnderTheCap()
    {
        var options = NoDelay with { BaseDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromMilliseconds(15) };
        var policy = Policy(options);
        var attemptTimes = new List<DateTimeOffset>();
        var call = policy.ExecuteAsync<int>(_ =>
        {
            lock (attemptTimes)
            {
                attemptTimes.Add(_time.GetUtcNow());
            }

            throw new InvalidOperationException("store down");
        }, CancellationToken.None);

        // Move the clock a millisecond at a time until the three attempts are made.
        for (var i = 0; i < 100 && !call.IsCompleted; i++)
        {
            await Task.Yield();
            _time.Advance(TimeSpan.FromMilliseconds(1));
            await Task.Delay(1);
        }

        await Assert.ThrowsAsync<InvalidOperationException>(() => call);
        Assert.Equal(3, attemptTimes.Count);

        // Retry 0 waits rand(0, 10 ms), retry 1 rand(0, min(15, 20) ms); the clock moved in 1 ms steps.
        Assert.InRange((attemptTimes[1] - attemptTimes[0]).TotalMilliseconds, 0, 11);
        Assert.InRange((attemptTimes[2] - attemptTimes[1]).TotalMilliseconds, 0, 16);
    }

    private StoreCallPolicy Policy(StoreCallOptions options) => new(
        options,
        new CircuitBreaker(new BreakerOptions { SlowCallDuration = TimeSpan.FromMilliseconds(100) }, _time),
        new RetryQuota(),
        _time,
        new Random(7));

    private static async Task WaitUntil(Func<bool> condition)
    {
        // Waits for the policy's own continuations (not for time: the clock is fake and moves only when told).
        for (var i = 0; i < 5000 && !condition(); i++)
        {
            await Task.Delay(1);
        }

        Assert.True(condition());
    }
}
