namespace Shaper.Rules;

/// <summary><c>algorithm</c>.</summary>
public enum AlgorithmKind
{
    /// <summary><c>token_bucket</c>.</summary>
    TokenBucket,

    /// <summary><c>leaky_bucket</c>: a meter (GCRA) with observe/kernel, a queue with enforce = "queue".</summary>
    LeakyBucket,

    /// <summary><c>fixed_window</c>.</summary>
    FixedWindow,

    /// <summary><c>sliding_log</c>.</summary>
    SlidingLog,

    /// <summary><c>sliding_window</c> (the two-window counter).</summary>
    SlidingWindow,
}
