using System.Runtime.InteropServices;

namespace Shaper.Limiting;

/// <summary>Per-key sliding log state: 24 bytes; the timestamps live in the limiter's ring arena.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct SlidingLogState
{
    /// <summary>The key's ring in the arena; -1 when the arena had none left (the key then fails open).</summary>
    public int Ring;

    /// <summary>The oldest logged timestamp's position in the ring.</summary>
    public int Head;

    /// <summary>Timestamps logged.</summary>
    public int Count;

    /// <summary>The latest timestamp seen; the clock never moves backwards for the log.</summary>
    public long LastNs;
}
