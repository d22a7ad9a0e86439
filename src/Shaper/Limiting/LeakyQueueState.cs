using System.Runtime.InteropServices;

namespace Shaper.Limiting;

/// <summary>Per-key leaky-bucket queue state: 16 bytes. The FIFO itself is implicit in the backlog.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct LeakyQueueState
{
    /// <summary>Time until the last scheduled departure's slot ends, in scaled units (one slot = one unit per token).</summary>
    public long Backlog;

    /// <summary>The latest timestamp seen; never moves backwards.</summary>
    public long LastNs;
}
