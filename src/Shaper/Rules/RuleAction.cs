namespace Shaper.Rules;

/// <summary><c>action</c>: what happens to traffic over the limit.</summary>
public enum RuleAction
{
    /// <summary>Drop silently.</summary>
    Drop,

    /// <summary>TCP reset, or ICMP unreachable for other protocols.</summary>
    Reject,

    /// <summary>Put the key in the kernel block set for <c>block_for</c>.</summary>
    Block,

    /// <summary>Log once per key per window.</summary>
    Log,
}
