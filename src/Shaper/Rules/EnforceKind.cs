namespace Shaper.Rules;

/// <summary><c>enforce</c>: where a rule acts.</summary>
public enum EnforceKind
{
    /// <summary>An nftables meter or iptables hashlimit (token_bucket only).</summary>
    Kernel,

    /// <summary>In process over captured packets; offenders get the action.</summary>
    Observe,

    /// <summary>Through NFQUEUE into a per-key leaky-bucket queue.</summary>
    Queue,
}
