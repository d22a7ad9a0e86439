using Shaper.Engine;
using Shaper.Packets;

namespace Shaper.Replay;

/// <summary>What a rule set would have done to a replayed input.</summary>
/// <param name="Rules">Per rule and per key: passed, limited, delayed.</param>
/// <param name="Packets">IP packets replayed.</param>
/// <param name="Allowed">Packets whose source is on the allow list.</param>
/// <param name="Frames">What the parser made of every frame read.</param>
public sealed record ReplayResult(IReadOnlyList<RuleReport> Rules, long Packets, long Allowed, ParseCounters Frames)
{
    /// <summary>
    /// Packets over the <c>[global]</c> cap, once per rule they matched over it (a hard rule's are dropped before its
    /// own limit and counted here, not in the rule's); null when no cap applies.
    /// </summary>
    public long? GlobalLimited { get; init; }

    /// <summary>How many interfaces the input named (the CSV's <c>iface</c> column); 0 for a capture file.</summary>
    public int Interfaces { get; init; }
}
