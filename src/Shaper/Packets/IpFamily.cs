namespace Shaper.Packets;

/// <summary>The address family of a parsed packet.</summary>
public enum IpFamily : byte
{
    /// <summary>Not parsed.</summary>
    None = 0,

    /// <summary>IPv4.</summary>
    V4 = 4,

    /// <summary>IPv6.</summary>
    V6 = 6,
}
