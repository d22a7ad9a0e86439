using Polly;
using Polly.Retry;
using Polly.Timeout;
using Shaper.Resilience;

namespace Shaper.Fleet;

/// <summary>
/// Every call the fleet makes to its store goes through here: Polly.Core's retry (attempts, full-jitter delays from
/// <see cref="Backoff.FullJitter"/>, on the injected clock) and timeout (one per attempt), with two pieces Polly
/// does not have: botocore's <see cref="RetryQuota"/>, asked before each retry, and the Resilience4j-style
/// <see cref="CircuitBreaker"/>, asked before each attempt and told each attempt's outcome and duration. A refused
/// attempt (breaker open) is not retried; a retry the quota cannot pay for is not made.
/// </summary>
public sealed class StoreCallPolicy
{
    private static readonly ResiliencePropertyKey<int> RetryCostKey = new("shaper.retry-cost");

    private readonly ResiliencePipeline _pipeline;
    private readonly CircuitBreaker _breaker;
    private readonly RetryQuota _quota;
    private readonly StoreCallOptions _options;
    private long _calls;
    private long _attempts;
    private long _retries;
    private long _timeouts;
    private long _failures;

    /// <summary>Creates the policy; <paramref name="random"/> draws the jitter (seed it in tests).</summary>
    public StoreCallPolicy(StoreCallOptions options, CircuitBreaker breaker, RetryQuota quota, TimeProvider time, Random random)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(breaker);
        ArgumentNullException.ThrowIfNull(quota);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxAttempts, 1, nameof(options.MaxAttempts));
        _options = options;
        _breaker = breaker;
        _quota = quota;
        var retries = options.MaxAttempts - 1;
        var builder = new ResiliencePipelineBuilder { TimeProvider = time };
        if (retries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = retries,
                ShouldHandle = args => ValueTask.FromResult(ShouldRetry(args.Outcome.Exception, args.AttemptNumber, args.Context)),
                DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(Backoff.FullJitter(args.AttemptNumber, options.BaseDelay, options.MaxDelay, random)),
                OnRetry = _ =>
                {
                    Interlocked.Increment(ref _retries);
                    return default;
                },
            });
        }

        _pipeline = builder.AddTimeout(options.AttemptTimeout).Build();
    }

    /// <summary>The breaker every attempt asks.</summary>
    public CircuitBreaker Breaker => _breaker;

    /// <summary>The retry quota.</summary>
    public RetryQuota Quota => _quota;

    /// <summary>The options.</summary>
    public StoreCallOptions Options => _options;

    /// <summary>Calls made, since start.</summary>
    public long Calls => Interlocked.Read(ref _calls);

    /// <summary>Attempts the breaker let through, since start.</summary>
    public long Attempts => Interlocked.Read(ref _attempts);

    /// <summary>Retries made, since start.</summary>
    public long Retries => Interlocked.Read(ref _retries);

    /// <summary>Attempts cut off by their timeout, since start.</summary>
    public long Timeouts => Interlocked.Read(ref _timeouts);

    /// <summary>Calls that failed in the end (after their retries, or refused by the breaker), since start.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>
    /// Runs <paramref name="call"/> under the breaker, timeouts and retries; throws the last attempt's exception
    /// (<see cref="BreakerOpenException"/>, <see cref="TimeoutRejectedException"/>, or the store's own).
    /// <paramref name="call"/> must honour its token: a call that outlives its timeout is abandoned, not awaited.
    /// </summary>
    public async Task<T> ExecuteAsync<T>(Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        Interlocked.Increment(ref _calls);
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            var outcome = await _pipeline.ExecuteOutcomeAsync(
                static async (ctx, state) =>
                {
                    try
                    {
                        return Outcome.FromResult(await state.Self.AttemptAsync(state.Call, ctx.CancellationToken).ConfigureAwait(false));
                    }
                    catch (Exception ex)
                    {
                        return Outcome.FromException<T>(ex);
                    }
                },
                context,
                (Self: this, Call: call)).ConfigureAwait(false);
            if (outcome.Exception is { } exception)
            {
                Interlocked.Increment(ref _failures);
                if (exception is TimeoutRejectedException)
                {
                    Interlocked.Increment(ref _timeouts);
                }

                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(exception);
            }

            _quota.OnSuccess(context.Properties.GetValue(RetryCostKey, 0));
            return outcome.Result!;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private async Task<T> AttemptAsync<T>(Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        if (!_breaker.TryAcquire(out var permit))
        {
            throw new BreakerOpenException(_breaker.State);
        }

        Interlocked.Increment(ref _attempts);
        try
        {
            var result = await call(cancellationToken).ConfigureAwait(false);
            _breaker.OnSuccess(permit);
            return result;
        }
        catch
        {
            // A timeout's cancellation lands here too: the breaker counts it as a failure (and as slow).
            _breaker.OnFailure(permit);
            throw;
        }
    }

    private bool ShouldRetry(Exception? exception, int attempt, ResilienceContext context)
    {
        if (exception is null or BreakerOpenException || attempt >= _options.MaxAttempts - 1 || context.CancellationToken.IsCancellationRequested)
        {
            return false;
        }

        if (exception is TimeoutRejectedException)
        {
            Interlocked.Increment(ref _timeouts);
        }

        if (!_quota.TryAcquire(exception is TimeoutRejectedException, out var cost))
        {
            return false;
        }

        context.Properties.Set(RetryCostKey, cost);
        return true;
    }
}
