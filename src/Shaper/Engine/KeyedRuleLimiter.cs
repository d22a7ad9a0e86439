using Shaper.Limiting;
using Shaper.Packets;
using Shaper.Rules;

namespace Shaper.Engine;

/// <summary>
/// One rule's limiter over every key it sees, whatever the algorithm: the non-generic face that the
/// engine calls once per matching packet (one virtual call), with the key tables specialised behind it.
/// </summary>
internal abstract class KeyedRuleLimiter
{
    /// <summary>Derives the packet's key under the rule's <c>per</c> and decides it.</summary>
    public abstract LimitDecision Decide(in PacketMeta packet, long cost);

    /// <summary>
    /// <see cref="Decide(in PacketMeta, long)"/>, and for a packet it passes how long from the packet's time the key would
    /// refuse one more arrival of one (0 when it would pass), read in the same key lookup.
    /// </summary>
    public abstract LimitDecision Decide(in PacketMeta packet, long cost, out long nextRetryAfterNs);

    /// <summary>Starts loading the table slot of the packet's key (see <c>LimiterTable.Prefetch</c>); decides nothing.</summary>
    public abstract void Prefetch(in PacketMeta packet);

    /// <summary>Counts a packet the block set dropped against its key, without consulting the algorithm.</summary>
    public abstract void CountBlocked(in PacketMeta packet);

    /// <summary>Counts a packet a fleet grant passed against its key, without consulting the algorithm (the key's counters stay whole).</summary>
    public abstract void CountPassed(in PacketMeta packet);

    /// <summary>
    /// Counts a packet a kernel drop or reject set dropped against its key, without consulting the algorithm, and
    /// returns <see cref="LimitOutcome.Limited"/> with the key's retry-after for an arrival of <paramref name="cost"/>.
    /// </summary>
    public abstract LimitDecision Refuse(in PacketMeta packet, long cost);

    /// <summary>
    /// Counts a packet that got past the kernel before its key's hold was installed as passed, whatever the limit
    /// (<see cref="Limiting.IKeyedLimiter{TState}.Force"/>), and returns how long from the packet's time the key would
    /// refuse one more arrival of one.
    /// </summary>
    public abstract long Charge(in PacketMeta packet, long cost);


    /// <summary>The counters of the packet's key (added when new).</summary>
    public abstract KeyCounters CountersOf(in PacketMeta packet);

    /// <summary>Keys tracked now, over both address families.</summary>
    public abstract int KeysTracked { get; }

    /// <summary>Keys evicted to make room.</summary>
    public abstract long Evictions { get; }

    /// <summary>Memory fixed by the tables allocated so far.</summary>
    public abstract long MemoryBytes { get; }

    /// <summary>
    /// Every tracked key with its counters and status at <paramref name="nowNs"/>; <paramref name="held"/> says
    /// whether a key is in a kernel set, and for how much longer.
    /// </summary>
    public abstract List<KeyReport> Report(long nowNs, Func<HeldKey, (KeyState State, long LeftNs)>? held = null);
}
