namespace Shaper.Engine;

/// <summary>One key's counters and its <c>X-Ratelimit-*</c> status, as reported by replay and <c>shaperctl counters</c>.</summary>
/// <param name="Key">The key as text: an address, a prefix (<c>198.18.1.0/24</c>), an address and port, or <c>rule</c>.</param>
/// <param name="Counters">Passed, delayed, limited and the longest delay.</param>
/// <param name="Remaining">What is left now (tokens, window room, queue room).</param>
/// <param name="Limit">The configured limit.</param>
/// <param name="RetryAfterNs">Time until the next arrival would pass; 0 now. For a key in a kernel set, at least the time it has left there.</param>
/// <param name="State">Whether the key is in a kernel drop, reject or block set (then <paramref name="Remaining"/> is 0).</param>
/// <param name="StateLeftNs">How long the key stays in that set; 0 when <see cref="KeyState.Open"/>.</param>
public sealed record KeyReport(
    string Key,
    KeyCounters Counters,
    long Remaining,
    long Limit,
    long RetryAfterNs,
    KeyState State = KeyState.Open,
    long StateLeftNs = 0);
