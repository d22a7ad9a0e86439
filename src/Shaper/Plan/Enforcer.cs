namespace Shaper.Plan;

/// <summary>The part of the running daemon that carries a rule out.</summary>
public enum Enforcer
{
    /// <summary>The kernel backend: an nftables meter or an iptables <c>hashlimit</c>.</summary>
    Kernel,

    /// <summary>The in-process engine over captured packets.</summary>
    Observe,

    /// <summary>NFQUEUE: the kernel hands the rule's packets to the daemon, which holds each key's in a leaky-bucket FIFO.</summary>
    Queue,
}
