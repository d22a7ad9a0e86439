namespace Shaper.Packets;

/// <summary>The link layer a frame starts with, from the capture's link type (DLT).</summary>
public enum LinkKind
{
    /// <summary>Ethernet II, with optional 802.1Q / 802.1ad (QinQ) tags (DLT_EN10MB = 1).</summary>
    Ethernet,

    /// <summary>Linux cooked capture v1, <c>-i any</c> (DLT_LINUX_SLL = 113).</summary>
    LinuxSll,

    /// <summary>Linux cooked capture v2 (DLT_LINUX_SLL2 = 276).</summary>
    LinuxSll2,

    /// <summary>Raw IP, version from the first nibble (DLT_RAW = 101, or 12/14 on some systems; 228 IPv4; 229 IPv6).</summary>
    RawIp,
}
