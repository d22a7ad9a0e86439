namespace Shaper.Limiting;

/// <summary>
/// The packet-level equivalent of the HTTP <c>X-Ratelimit-*</c> headers for one key:
/// what is left, the limit, and how long until the next arrival would pass.
/// </summary>
/// <param name="Remaining">Arrivals of the probed cost that would pass now (tokens, window room, queue room).</param>
/// <param name="Limit">The configured limit (burst, window limit, or queue size).</param>
/// <param name="RetryAfterNs">0 when the next arrival would pass now; <see cref="LimitDecision.Never"/> when it never can.</param>
public readonly record struct RateLimitStatus(long Remaining, long Limit, long RetryAfterNs);
