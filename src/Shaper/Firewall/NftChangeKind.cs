namespace Shaper.Firewall;

/// <summary>What someone else changed in the shaper's table, as nftables' notifications tell it; the reconciler repairs by kind.</summary>
public enum NftChangeKind
{
    /// <summary>The table was deleted (alone, or with the whole ruleset).</summary>
    TableDeleted,

    /// <summary>A chain was deleted.</summary>
    ChainDeleted,

    /// <summary>Every rule of a chain was deleted in one transaction (<c>nft flush chain</c>).</summary>
    ChainFlushed,

    /// <summary>A rule was added, replaced or deleted.</summary>
    RuleChanged,

    /// <summary>A set or another stateful object (counter, limit) was deleted or added.</summary>
    ObjectChanged,

    /// <summary>Every element of a block set that the daemon holds was deleted (<c>nft flush set</c>).</summary>
    SetFlushed,

    /// <summary>Some elements of a block set were deleted.</summary>
    ElementDeleted,

    /// <summary>Notifications were lost (the socket's buffer overflowed): what changed is unknown.</summary>
    Unknown,
}
