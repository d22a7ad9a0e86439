namespace Shaper.Engine;

/// <summary>Where a key stands in the kernel: free, or in one of the sets that stop its packets.</summary>
public enum KeyState
{
    /// <summary>In no set: its limiter decides its packets.</summary>
    Open,

    /// <summary>In its rule's drop set until its limiter would pass it again.</summary>
    Dropped,

    /// <summary>In its rule's reject set (TCP reset, ICMP unreachable) until its limiter would pass it again.</summary>
    Rejected,

    /// <summary>In the block set for <c>block_for</c>.</summary>
    Blocked,
}
