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
    private readonly int _initialCapacity;
    private readonly int _maxCapacity;
    private readonly uint _mask4;
    private readonly UInt128 _mask6;
    private LimiterTable<V4Key, CountedState<TState>, CountingLimiter<TState, TLimiter>>? _v4;
    private LimiterTable<V4PortKey, CountedState<TState>, CountingLimiter<TState, TLimiter>>? _v4Port;
    private LimiterTable<V6Key, CountedState<TState>, CountingLimiter<TState, TLimiter>>? _v6;

    /// <summary>
    /// Creates the limiter. Each key table starts at <paramref name="initialCapacity"/> keys and, when full,
    /// doubles up to <paramref name="maxCapacity"/>; at the maximum it evicts instead. The daemon and replay
    /// start at <see cref="RuleEngine.InitialKeysPerRule"/>, so that the tables stay as compact (and
    /// cache-friendly) as the traffic allows; memory is bounded by the maximum.
    /// </summary>
    public KeyedRuleLimiter(TLimiter limiter, KeyScope per, int initialCapacity, int maxCapacity)
    {
        _initialCapacity = Math.Min(initialCapacity, maxCapacity);
        _maxCapacity = maxCapacity;
        _limiter = new CountingLimiter<TState, TLimiter>(limiter);
        _per = per;
        _mask4 = AddressSet.Mask4(per.V4Prefix);
        _mask6 = AddressSet.Mask6(per.V6Prefix);
    }

    public override int KeysTracked => (_v4?.Count ?? 0) + (_v4Port?.Count ?? 0) + (_v6?.Count ?? 0);

    public override long Evictions => (_v4?.Evictions ?? 0) + (_v4Port?.Evictions ?? 0) + (_v6?.Evictions ?? 0);

    public override long MemoryBytes => (_v4?.MemoryBytes ?? 0) + (_v4Port?.MemoryBytes ?? 0) + (_v6?.MemoryBytes ?? 0);

    public override LimitDecision Decide(in PacketMeta packet, long cost) => Apply(packet, cost, Op.Decide, out _, out _);

    public override LimitDecision Decide(in PacketMeta packet, long cost, out long nextRetryAfterNs) =>
        Apply(packet, cost, Op.DecideAndPeek, out _, out nextRetryAfterNs);

    public override void CountBlocked(in PacketMeta packet) => Apply(packet, 0, Op.CountBlocked, out _, out _);

    public override void CountPassed(in PacketMeta packet) => Apply(packet, 0, Op.CountPassed, out _, out _);

    public override LimitDecision Refuse(in PacketMeta packet, long cost) => Apply(packet, cost, Op.Refuse, out _, out _);

    public override long Charge(in PacketMeta packet, long cost)
    {
        Apply(packet, cost, Op.Charge, out _, out var retryNs);
        return retryNs;
    }

    public override KeyCounters CountersOf(in PacketMeta packet)
    {
        Apply(packet, 0, Op.Counters, out var counters, out _);
        return counters;
    }

    public override void Prefetch(in PacketMeta packet)
    {
        switch (_per.Kind)
        {
            case KeyKind.Rule:
                // One key: its slot stays in cache.
                return;
            case KeyKind.SourceAndDport:
                if (packet.Family == IpFamily.V4)
                {
                    _v4Port?.Prefetch(new V4PortKey(packet.Source4 & _mask4, packet.DestinationPort));
                }
                else
                {
                    _v6?.Prefetch(new V6Key(packet.Source & _mask6, packet.DestinationPort));
                }

                return;
            default:
                var address = _per.Kind == KeyKind.Destination ? packet.Destination : packet.Source;
                if (packet.Family == IpFamily.V4)
                {
                    _v4?.Prefetch(new V4Key((uint)address & _mask4));
                }
                else
                {
                    _v6?.Prefetch(new V6Key(address & _mask6));
                }

                return;
        }
    }

    private LimitDecision Apply(in PacketMeta packet, long cost, Op op, out KeyCounters counters, out long peekNs)
    {
        var now = packet.TimestampNs;
        switch (_per.Kind)
        {
            case KeyKind.Rule:
                return Apply(ref Ensure(ref _v4, 1, 1), new V4Key(0), now, cost, op, out counters, out peekNs);
            case KeyKind.SourceAndDport:
                return packet.Family == IpFamily.V4
                    ? Apply(ref Ensure(ref _v4Port, _initialCapacity, _maxCapacity), new V4PortKey(packet.Source4 & _mask4, packet.DestinationPort), now, cost, op, out counters, out peekNs)
                    : Apply(ref Ensure(ref _v6, _initialCapacity, _maxCapacity), new V6Key(packet.Source & _mask6, packet.DestinationPort), now, cost, op, out counters, out peekNs);
            default:
                var address = _per.Kind == KeyKind.Destination ? packet.Destination : packet.Source;
                return packet.Family == IpFamily.V4
                    ? Apply(ref Ensure(ref _v4, _initialCapacity, _maxCapacity), new V4Key((uint)address & _mask4), now, cost, op, out counters, out peekNs)
                    : Apply(ref Ensure(ref _v6, _initialCapacity, _maxCapacity), new V6Key(address & _mask6), now, cost, op, out counters, out peekNs);
        }
    }

    private LimitDecision Apply<TKey>(
        ref LimiterTable<TKey, CountedState<TState>, CountingLimiter<TState, TLimiter>> table, in TKey key, long now, long cost, Op op, out KeyCounters counters, out long peekNs)
        where TKey : unmanaged, ILimiterKey<TKey>
    {
        counters = default;
        peekNs = 0;
        if (table.Count == table.Capacity && table.Capacity < _maxCapacity && !table.Contains(key))
        {
            var larger = NewTable<TKey>((int)Math.Min((long)table.Capacity * 2, _maxCapacity), _maxCapacity);
            table.TryCopyTo(larger);
            table = larger;
        }

        if (op == Op.Decide)
        {
            return table.Acquire(key, now, cost);
        }

        ref var state = ref table.GetOrAddState(key, now);
        switch (op)
        {
            case Op.DecideAndPeek:
                // One lookup for both: the decision, and for a passed packet the retry-after of one more arrival.
                var decision = table.Limiter.Acquire(ref state, now, cost);
                peekNs = decision.Outcome == LimitOutcome.Passed ? table.Limiter.GetStatus(state, now, 1).RetryAfterNs : 0;
                return decision;
            case Op.Counters:
                counters = state.Counters;
                return default;
            case Op.Refuse:
                // A packet a kernel set dropped never reached the limiter: it counts against the key, and the
                // limiter's answer for it (unchanged, as a refused arrival changes no algorithm's state) says how
                // much longer the set must hold the key.
                state.Counters.Limited++;
                return new LimitDecision(LimitOutcome.Limited, table.Limiter.GetStatus(state, now, cost).RetryAfterNs);
            case Op.Charge:
                table.Limiter.Force(ref state, now, cost);
                peekNs = table.Limiter.GetStatus(state, now, 1).RetryAfterNs;
                return LimitDecision.Pass;
            case Op.CountPassed:
                state.Counters.Passed++;
                return new LimitDecision(LimitOutcome.Passed, 0);
            default:
                // A packet the block set dropped never reached the limiter; it only counts against the key.
                state.Counters.Limited++;
                return new LimitDecision(LimitOutcome.Limited, 0);
        }
    }

    public override List<KeyReport> Report(long nowNs, Func<HeldKey, (KeyState State, long LeftNs)>? held = null)
    {
        var reports = new List<KeyReport>(KeysTracked);
        _v4?.VisitEntries((in V4Key key, in CountedState<TState> state) =>
            reports.Add(Build(new HeldKey(IpFamily.V4, key.Address, _per.V4Prefix, 0, _per.Kind), state, nowNs, held)));
        _v4Port?.VisitEntries((in V4PortKey key, in CountedState<TState> state) =>
            reports.Add(Build(new HeldKey(IpFamily.V4, key.Address, _per.V4Prefix, key.Port, _per.Kind), state, nowNs, held)));
        _v6?.VisitEntries((in V6Key key, in CountedState<TState> state) =>
            reports.Add(Build(new HeldKey(IpFamily.V6, key.Address, _per.V6Prefix, key.Port, _per.Kind), state, nowNs, held)));
        return reports;
    }

    private KeyReport Build(HeldKey key, in CountedState<TState> state, long nowNs, Func<HeldKey, (KeyState State, long LeftNs)>? held)
    {
        var status = _limiter.GetStatus(state, nowNs, 1);
        var (keyState, left) = held?.Invoke(key) ?? (KeyState.Open, 0);

        // In a kernel set the key's packets are stopped whatever its limiter would say: nothing remains until it leaves.
        return keyState == KeyState.Open
            ? new KeyReport(key.ToString(), state.Counters, status.Remaining, status.Limit, status.RetryAfterNs)
            : new KeyReport(key.ToString(), state.Counters, 0, status.Limit, Math.Max(left, status.RetryAfterNs), keyState, left);
    }

    private ref LimiterTable<TKey, CountedState<TState>, CountingLimiter<TState, TLimiter>> Ensure<TKey>(
        ref LimiterTable<TKey, CountedState<TState>, CountingLimiter<TState, TLimiter>>? table, int capacity, int maxCapacity)
        where TKey : unmanaged, ILimiterKey<TKey>
    {
        table ??= NewTable<TKey>(capacity, maxCapacity);
        return ref table!;
    }

    private LimiterTable<TKey, CountedState<TState>, CountingLimiter<TState, TLimiter>> NewTable<TKey>(int capacity, int maxCapacity)
        where TKey : unmanaged, ILimiterKey<TKey> => new(_limiter, Math.Min(capacity, maxCapacity));

    private enum Op
    {
        Decide,
        CountBlocked,
        Refuse,
        Counters,
        CountPassed,
        DecideAndPeek,
        Charge,
    }
}
