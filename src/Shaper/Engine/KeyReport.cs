namespace Shaper.Engine;

/// <summary>One key's counters and its <c>X-Ratelimit-*</c> status, as reported by replay and <c>shaperctl counters</c>.</summary>
/// <param name="Key">The key as text: an address, a prefix (<c>198.18.1.0/24</c>), an address and port, or <c>rule</c>.</param>
/// <param name="Counters">Passed, delayed, limited and the longest delay.</param>
/// <param name="Remaining">What is left now (tokens, window room, queue room).</param>
/// <param name="Limit">The configured limit.</param>
/// <param name="RetryAfterNs">Time until the next arrival would pass; 0 now.</param>
public sealed record KeyReport(string Key, KeyCounters Counters, long Remaining, long Limit, long RetryAfterNs);
