using System.Runtime.InteropServices;

namespace Shaper.Engine;

/// <summary>An algorithm's per-key state with the key's counters beside it, so one lookup serves both.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct CountedState<TState>
    where TState : unmanaged
{
    /// <summary>The algorithm's state.</summary>
    public TState Inner;

    /// <summary>The key's counters.</summary>
    public KeyCounters Counters;
}
