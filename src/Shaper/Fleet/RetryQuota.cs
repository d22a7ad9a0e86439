namespace Shaper.Fleet;

/// <summary>
/// botocore's standard-mode retry quota (<c>botocore/retries/quota.py</c> and <c>standard.py</c>'s
/// <c>RetryQuotaChecker</c>): a token bucket of 500 that each retry drains by 5, or by 10 when the failed attempt
/// timed out; a call that succeeds without a retry puts 1 back, one that succeeded after retries gives back what
/// its last retry took; never above 500. With the quota spent no retry is made, so a store outage costs one
/// attempt per call instead of turning into a retry storm. Thread-safe.
/// </summary>
public sealed class RetryQuota
{
    /// <summary>botocore's <c>INITIAL_RETRY_TOKENS</c>, also the maximum.</summary>
    public const int Capacity = 500;

    /// <summary>botocore's <c>RETRY_COST</c>.</summary>
    public const int RetryCost = 5;

    /// <summary>botocore's <c>TIMEOUT_RETRY_COST</c>.</summary>
    public const int TimeoutRetryCost = 10;

    /// <summary>botocore's <c>NO_RETRY_INCREMENT</c>.</summary>
    public const int NoRetryIncrement = 1;

    private int _available = Capacity;
    private long _refused;

    /// <summary>Tokens left.</summary>
    public int Available => Volatile.Read(ref _available);

    /// <summary>Retries refused for want of tokens, since start.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Takes the cost of one retry after a failure (a timeout costs more); false, taking nothing, when too few tokens are left.</summary>
    public bool TryAcquire(bool timedOut, out int cost)
    {
        cost = timedOut ? TimeoutRetryCost : RetryCost;
        while (true)
        {
            var available = Volatile.Read(ref _available);
            if (available < cost)
            {
                Interlocked.Increment(ref _refused);
                cost = 0;
                return false;
            }

            if (Interlocked.CompareExchange(ref _available, available - cost, available) == available)
            {
                return true;
            }
        }
    }

    /// <summary>After a call that succeeded: gives back <paramref name="lastRetryCost"/>, or 1 when it needed no retry (0).</summary>
    public void OnSuccess(int lastRetryCost)
    {
        var amount = lastRetryCost > 0 ? lastRetryCost : NoRetryIncrement;
        while (true)
        {
            var available = Volatile.Read(ref _available);
            var next = Math.Min(Capacity, available + amount);
            if (Interlocked.CompareExchange(ref _available, next, available) == available)
            {
                return;
            }
        }
    }
}
