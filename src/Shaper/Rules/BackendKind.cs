namespace Shaper.Rules;

/// <summary><c>[daemon].backend</c>.</summary>
public enum BackendKind
{
    /// <summary>nftables when usable, else iptables.</summary>
    Auto,

    /// <summary>nftables only.</summary>
    Nftables,

    /// <summary>iptables <c>hashlimit</c> only.</summary>
    Iptables,

    /// <summary>No kernel enforcement (observe and replay only).</summary>
    None,
}
