using Shaper.Limiting;
using Shaper.Packets;
using Shaper.Rules;

namespace Shaper.Engine;

/// <summary>The typed implementation for one algorithm.</summary>
internal sealed class KeyedRuleLimiter<TState, TLimiter> : KeyedRuleLimiter
    where TState : unmanaged
    where TLimiter : struct, IKeyedLimiter<TState>
{
    private readonly CountingLimiter<TState, TLimiter> _limiter;
    private readonly KeyScope _per;
    private readonly int _capacity;
    private readonly uint _mask4;
    private readonly UInt128 _mask6;
    private LimiterTable<V4Key, CountedState<TState>, CountingLimiter<TState, TLimiter>>? _v4;
    private LimiterTable<V4PortKey, CountedState<TState>, CountingLimiter<TState, TLimiter>>? _v4Port;
    private LimiterTable<V6Key, CountedState<TState>, CountingLimiter<TState, TLimiter>>? _v6;

    public KeyedRuleLimiter(TLimiter limiter, KeyScope per, int capacity)
    {
        _limiter = new CountingLimiter<TState, TLimiter>(limiter);
        _per = per;
        _capacity = capacity;
        _mask4 = AddressSet.Mask4(per.V4Prefix);
        _mask6 = AddressSet.Mask6(per.V6Prefix);
    }

    public override int KeysTracked => (_v4?.Count ?? 0) + (_v4Port?.Count ?? 0) + (_v6?.Count ?? 0);

    public override long Evictions => (_v4?.Evictions ?? 0) + (_v4Port?.Evictions ?? 0) + (_v6?.Evictions ?? 0);

    public override long MemoryBytes => (_v4?.MemoryBytes ?? 0) + (_v4Port?.MemoryBytes ?? 0) + (_v6?.MemoryBytes ?? 0);

    public override LimitDecision Decide(in PacketMeta packet, long cost) => Apply(packet, cost, countAsLimited: false);

    public override void CountBlocked(in PacketMeta packet) => Apply(packet, 0, countAsLimited: true);

    private LimitDecision Apply(in PacketMeta packet, long cost, bool countAsLimited)
    {
        var now = packet.TimestampNs;
        switch (_per.Kind)
        {
            case KeyKind.Rule:
                return Apply(_v4 ??= NewTable<V4Key>(1), new V4Key(0), now, cost, countAsLimited);
            case KeyKind.SourceAndDport:
                return packet.Family == IpFamily.V4
                    ? Apply(_v4Port ??= NewTable<V4PortKey>(_capacity), new V4PortKey(packet.Source4 & _mask4, packet.DestinationPort), now, cost, countAsLimited)
                    : Apply(_v6 ??= NewTable<V6Key>(_capacity), new V6Key(packet.Source & _mask6, packet.DestinationPort), now, cost, countAsLimited);
            default:
                var address = _per.Kind == KeyKind.Destination ? packet.Destination : packet.Source;
                return packet.Family == IpFamily.V4
                    ? Apply(_v4 ??= NewTable<V4Key>(_capacity), new V4Key((uint)address & _mask4), now, cost, countAsLimited)
                    : Apply(_v6 ??= NewTable<V6Key>(_capacity), new V6Key(address & _mask6), now, cost, countAsLimited);
        }
    }

    private static LimitDecision Apply<TKey>(
        LimiterTable<TKey, CountedState<TState>, CountingLimiter<TState, TLimiter>> table, in TKey key, long now, long cost, bool countAsLimited)
        where TKey : unmanaged, ILimiterKey<TKey>
    {
        if (!countAsLimited)
        {
            return table.Acquire(key, now, cost);
        }

        // A packet the block set dropped never reached the limiter; it only counts against the key.
        table.GetOrAddState(key, now).Counters.Limited++;
        return new LimitDecision(LimitOutcome.Limited, 0);
    }

    public override List<KeyReport> Report(long nowNs)
    {
        var reports = new List<KeyReport>(KeysTracked);
        var suffix4 = _per.Kind != KeyKind.Rule && _per.V4Prefix < 32 ? $"/{_per.V4Prefix}" : "";
        var suffix6 = _per.Kind != KeyKind.Rule && _per.V6Prefix < 128 ? $"/{_per.V6Prefix}" : "";
        _v4?.VisitEntries((in V4Key key, in CountedState<TState> state) =>
            reports.Add(Build(_per.Kind == KeyKind.Rule ? "rule" : key + suffix4, state, nowNs)));
        _v4Port?.VisitEntries((in V4PortKey key, in CountedState<TState> state) =>
            reports.Add(Build(key.ToString(), state, nowNs)));
        _v6?.VisitEntries((in V6Key key, in CountedState<TState> state) =>
            reports.Add(Build(key + suffix6, state, nowNs)));
        return reports;
    }

    private KeyReport Build(string key, in CountedState<TState> state, long nowNs)
    {
        var status = _limiter.GetStatus(state, nowNs, 1);
        return new KeyReport(key, state.Counters, status.Remaining, status.Limit, status.RetryAfterNs);
    }

    private LimiterTable<TKey, CountedState<TState>, CountingLimiter<TState, TLimiter>> NewTable<TKey>(int capacity)
        where TKey : unmanaged, ILimiterKey<TKey> => new(_limiter, capacity);
}
