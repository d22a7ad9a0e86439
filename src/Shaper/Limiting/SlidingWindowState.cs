using System.Runtime.InteropServices;

namespace Shaper.Limiting;

/// <summary>Per-key sliding window counter state: 24 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct SlidingWindowState
{
    /// <summary>The index of the current fixed window.</summary>
    public long Window;

    /// <summary>Accepted in the current window.</summary>
    public long Current;

    /// <summary>Accepted in the window before it.</summary>
    public long Previous;
}
