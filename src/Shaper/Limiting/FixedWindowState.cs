using System.Runtime.InteropServices;

namespace Shaper.Limiting;

/// <summary>Per-key fixed window state: 16 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FixedWindowState
{
    /// <summary>The index of the key's current window (timestamp / window, floored).</summary>
    public long Window;

    /// <summary>What was accepted in that window.</summary>
    public long Count;
}
