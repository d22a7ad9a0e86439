namespace Shaper.Rules;

/// <summary><c>match.proto</c>.</summary>
public enum Protocol
{
    /// <summary>Any protocol.</summary>
    Any,

    /// <summary>TCP.</summary>
    Tcp,

    /// <summary>UDP.</summary>
    Udp,

    /// <summary>ICMP (IPv4).</summary>
    Icmp,

    /// <summary>ICMPv6.</summary>
    Icmpv6,
}
