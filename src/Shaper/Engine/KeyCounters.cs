using System.Runtime.InteropServices;

namespace Shaper.Engine;

/// <summary>Per-key counters kept beside the limiter state in the same table entry: 16 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KeyCounters
{
    /// <summary>Arrivals that went through at once.</summary>
    public uint Passed;

    /// <summary>Arrivals a queue let through later.</summary>
    public uint Delayed;

    /// <summary>Arrivals dropped, rejected, or (soft mode) that would have been.</summary>
    public uint Limited;

    /// <summary>The longest queueing delay given, in milliseconds (rounded up).</summary>
    public uint MaxDelayMs;
}
