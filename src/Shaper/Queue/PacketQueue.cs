using System.Runtime.CompilerServices;
using Shaper.Engine;
using Shaper.Limiting;
using Shaper.Packets;
using Shaper.Rules;

namespace Shaper.Queue;

/// <summary>
/// One queue rule's decisions, with no kernel and no clock: each arrival (its kernel id, its copied headers and the
/// monotonic time it was read) is decided by the rule's leaky-bucket limiter, the very code <c>shaperctl replay</c>
/// runs (<see cref="LimiterFactory"/>), so a replay of the same arrivals predicts every decision. A packet of a key
/// with an empty FIFO and a free slot is accepted at once; otherwise it is held until the departure slot the limiter
/// gave it; a full FIFO drops the newest. The slots are fixed when a packet arrives, spaced 1/rate on the arrival
/// clock, so a release that comes late (a busy CPU) does not push the later slots back: whatever is due leaves at
/// once, and the key catches up with what it was owed (at most its queue). Not thread-safe: the queue's worker owns it.
/// </summary>
internal sealed class PacketQueue
{
    private readonly KeyedRuleLimiter _limiter;
    private readonly ReleaseSchedule _schedule;
    private readonly HeldBudget _budget;
    private readonly bool _dryRun;

    /// <summary>
    /// The queue of <paramref name="rule"/> (leaky bucket, enforce = "queue"), tracking at most <paramref name="maxKeys"/>
    /// keys per address family and holding packets against <paramref name="budget"/>.
    /// </summary>
    public PacketQueue(Rule rule, int maxKeys, HeldBudget budget)
    {
        ArgumentNullException.ThrowIfNull(rule);
        Rule = rule;
        _limiter = LimiterFactory.Create(rule, RuleEngine.InitialKeysPerRule, maxKeys);
        _schedule = new ReleaseSchedule(budget.Capacity);
        _budget = budget;
        _dryRun = rule.Mode == RuleMode.Soft || rule.Action == RuleAction.Log;
    }

    /// <summary>The rule.</summary>
    public Rule Rule { get; }

    /// <summary>Packets accepted on arrival (an empty FIFO and a free slot).</summary>
    public long Passed { get; private set; }

    /// <summary>Packets held and accepted at their slot.</summary>
    public long Delayed { get; private set; }

    /// <summary>Packets dropped because their key's FIFO was full.</summary>
    public long Dropped { get; private set; }

    /// <summary>Packets dropped because the daemon held <c>max_held</c> already.</summary>
    public long DroppedAtCap { get; private set; }

    /// <summary>Packets whose headers did not parse as IPv4 or IPv6: accepted at once, uncounted by the limiter.</summary>
    public long Unparsed { get; private set; }

    /// <summary>Packets held now.</summary>
    public int Held => _schedule.Count;

    /// <summary>When the next held packet departs; <see cref="long.MaxValue"/> when none is held.</summary>
    public long NextDepartureNs => _schedule.NextDepartureNs;

    /// <summary>How long the released packets were held (read to verdict), the last ones and the longest.</summary>
    public DelaySamples Delays { get; } = new(8192);

    /// <summary>Keys tracked.</summary>
    public int KeysTracked => _limiter.KeysTracked;

    /// <summary>Keys evicted to make room.</summary>
    public long Evictions => _limiter.Evictions;

    /// <summary>Decides the packet <paramref name="id"/> whose headers (from the IP header on) are <paramref name="headers"/>, read at <paramref name="nowNs"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public QueueVerdict Arrive(uint id, ReadOnlySpan<byte> headers, long nowNs)
    {
        if (PacketParser.Parse(headers, LinkKind.RawIp, out var meta) != ParseResult.Ok)
        {
            Unparsed++;
            return QueueVerdict.AcceptNow;
        }

        meta.TimestampNs = nowNs;
        var decision = _limiter.Decide(meta, 1);
        if (_dryRun)
        {
            Passed++;
            return QueueVerdict.AcceptNow;
        }

        switch (decision.Outcome)
        {
            case LimitOutcome.Passed:
                Passed++;
                return QueueVerdict.AcceptNow;
            case LimitOutcome.Delayed when _budget.TryTake():
                if (!_schedule.TryHold(new HeldPacket(id, nowNs, nowNs + decision.DelayNs)))
                {
                    _budget.Return();
                    DroppedAtCap++;
                    return QueueVerdict.Drop;
                }

                return QueueVerdict.Hold;
            case LimitOutcome.Delayed:
                DroppedAtCap++;
                return QueueVerdict.Drop;
            default:
                Dropped++;
                return QueueVerdict.Drop;
        }
    }

    /// <summary>
    /// Takes the next held packet due at <paramref name="nowNs"/> (or any held one, with <paramref name="all"/>, for a
    /// graceful stop), records how long it was held, and returns its id; false when none is.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryRelease(long nowNs, bool all, out uint id)
    {
        if (!(all ? _schedule.TryTakeAny(out var packet) : _schedule.TryTakeDue(nowNs, out packet)))
        {
            id = 0;
            return false;
        }

        _budget.Return();
        Delayed++;
        Delays.Add(nowNs - packet.ArrivalNs);
        id = packet.Id;
        return true;
    }

    /// <summary>Every tracked key with its counters and queue room at <paramref name="nowNs"/>.</summary>
    public List<KeyReport> Keys(long nowNs) => _limiter.Report(nowNs);
}
