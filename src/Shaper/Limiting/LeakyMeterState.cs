using System.Runtime.InteropServices;

namespace Shaper.Limiting;

/// <summary>Per-key leaky-bucket meter state: 16 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct LeakyMeterState
{
    /// <summary>The bucket's level, in scaled units; it leaks towards 0 at the rate.</summary>
    public long Level;

    /// <summary>The latest timestamp seen; never moves backwards.</summary>
    public long LastNs;
}
