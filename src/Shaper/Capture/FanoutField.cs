namespace Shaper.Capture;

/// <summary>The address a <see cref="FanoutKey"/> hashes.</summary>
public enum FanoutField
{
    /// <summary>No hash: one thread takes every packet.</summary>
    None,

    /// <summary>The source address.</summary>
    Source,

    /// <summary>The destination address.</summary>
    Destination,
}
