using System.Runtime.InteropServices;

namespace Shaper.Limiting;

/// <summary>Per-key token bucket state: 16 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct TokenBucketState
{
    /// <summary>Tokens held, in scaled units (one token = the rate's units-per-token).</summary>
    public long Tokens;

    /// <summary>The latest timestamp seen; never moves backwards.</summary>
    public long LastNs;
}
