using Shaper.Fleet;

namespace Shaper.Tests.Fleet;

public sealed class RetryQuotaTests
{
    [Fact]
    public void TryAcquire_FullQuota_AllowsHundredRetriesThenRefuses()
    {
        var quota = new RetryQuota();

        // 500 tokens at 5 a retry: exactly 100 retries, then none (botocore standard).
        for (var i = 0; i < 100; i++)
        {
            Assert.True(quota.TryAcquire(timedOut: false, out var cost));
            Assert.Equal(5, cost);
        }

        Assert.False(quota.TryAcquire(timedOut: false, out var refused));
        Assert.Equal(0, refused);
        Assert.Equal(0, quota.Available);
        Assert.Equal(1, quota.Refused);
    }

    [Fact]
    public void TryAcquire_Timeout_CostsTen()
    {
        var quota = new RetryQuota();
        Assert.True(quota.TryAcquire(timedOut: true, out var cost));
        Assert.Equal(10, cost);
        Assert.Equal(490, quota.Available);
    }

    [Fact]
    public void OnSuccess_WithoutRetry_AddsOneUpToCapacity()
    {
        var quota = new RetryQuota();
        quota.TryAcquire(timedOut: false, out _);
        quota.OnSuccess(0);
        Assert.Equal(496, quota.Available);
        for (var i = 0; i < 10; i++)
        {
            quota.OnSuccess(0);
        }

        Assert.Equal(RetryQuota.Capacity, quota.Available);
    }

    [Fact]
    public void OnSuccess_AfterRetry_RefundsTheLastRetrysCost()
    {
        var quota = new RetryQuota();
        quota.TryAcquire(timedOut: false, out _);
        quota.TryAcquire(timedOut: true, out var last);
        Assert.Equal(485, quota.Available);
        quota.OnSuccess(last);
        Assert.Equal(495, quota.Available);
    }
}
