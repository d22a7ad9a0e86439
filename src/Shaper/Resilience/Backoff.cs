namespace Shaper.Resilience;

/// <summary>Retry delays (DOMAIN.md §3).</summary>
public static class Backoff
{
    /// <summary>
    /// Capped exponential backoff with full jitter, the AWS Architecture Blog's best-spreading variant:
    /// <c>rand(0, min(cap, base × 2^attempt))</c>, <paramref name="attempt"/> counting from 0.
    /// </summary>
    public static TimeSpan FullJitter(int attempt, TimeSpan @base, TimeSpan cap, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var exponent = Math.Clamp(attempt, 0, 62);
        var ceiling = Math.Min(cap.Ticks, @base.Ticks * Math.Pow(2, exponent));
        return TimeSpan.FromTicks((long)(random.NextDouble() * ceiling));
    }
}
