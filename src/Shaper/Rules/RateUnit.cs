namespace Shaper.Rules;

/// <summary>What a rate counts.</summary>
public enum RateUnit
{
    /// <summary>Packets (cost 1 each).</summary>
    Packets,

    /// <summary>Bytes (cost = the packet's IP length).</summary>
    Bytes,
}
