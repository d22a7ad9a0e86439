using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Shaper.Fleet;
using Shaper.Limiting;
using Shaper.Packets;
using Shaper.Rules;

namespace Shaper.Engine;

/// <summary>
/// One fleet rule's decisions on one engine, never waiting on the network. While the store answers
/// (<see cref="Shared"/>), a key the store has granted an allowance passes while the allowance lasts and is then
/// limited until the next grant; a key not yet granted, and every key while the store is away, is decided by the
/// rule's local limiter built at this host's share (limit ÷ hosts). Each key's admitted hits (those admitted under the
/// share while the store is away apart) and offered demand
/// accumulate until <see cref="Harvest"/> hands them to the sync; <see cref="Apply"/> takes the store's grants.
/// Owned by the engine thread: the sync reaches it only through the engine, between packets. The key table is
/// a preallocated dictionary of at most the rule's key count; a key beyond it is decided by the local share and
/// counted in <see cref="Untracked"/>. While the store is away a key that had a grant goes on from what is left of it,
/// refilled at this host's share (<see cref="Shared"/>), and is held as soon as it is spent, as under a grant.
/// <para>
/// An observe rule's key whose grant a passed packet has spent is held in the kernel drop set at once
/// (<see cref="HoldAfterPassNs"/>) until its next packet would fit: the kernel stops the key's next packets instead of
/// letting in the one whose refusal would raise the hold (one packet through per host per sync otherwise). A grant
/// that comes while the key is held releases it (<see cref="Apply"/> returns those keys). A grant not followed by the
/// next within a sync and a half is overdue (a late round: a busy machine, a slow store): the key then goes on at the
/// rate the store last set aside for this host (its share of the fleet's demand times the rule's rate) instead of
/// staying held until the round comes, as Envoy's rate limit quota goes on with an expired assignment
/// (<c>reuse_last_assignment</c>); what it admits is charged when the round comes. A key with no packets in a round
/// is sent once with nothing, so the store counts this host out of its demand at once.
/// </para>
/// </summary>
internal sealed class FleetGate
{
    private readonly Dictionary<HeldKey, Entry> _keys;
    private readonly KeyScope _per;
    private readonly int _maxKeys;
    private readonly long _syncNs;
    private readonly Random _random = new();
    private readonly double _sharePerNs;
    private readonly double _shareBurst;
    private readonly double _fleetPerNs;
    private bool _shared = true; // until a round has failed the store is taken to be there (see Shared)
    private long _lastNs;

    /// <summary>A gate for <paramref name="rule"/> on a fleet of <paramref name="hosts"/>, synced every <paramref name="syncNs"/>.</summary>
    public FleetGate(Rule rule, int hosts, int maxKeys, long syncNs)
    {
        _per = rule.Per;
        _maxKeys = maxKeys;
        _syncNs = syncNs;
        _keys = new Dictionary<HeldKey, Entry>(Math.Min(maxKeys, 4096));

        // This host's share of the rule as a bucket: the rate (or the limit per window) and the burst (or the limit) ÷ hosts.
        if (rule.Limit is { } limit && rule.Window is { } window)
        {
            _fleetPerNs = limit / (double)(window.Ticks * 100);
            _sharePerNs = _fleetPerNs / hosts;
            _shareBurst = Math.Max(1, limit / (double)hosts);
        }
        else if (rule.Rate is { } rate)
        {
            _fleetPerNs = rate.Rate.Amount / (double)rate.Rate.PeriodNs;
            _sharePerNs = _fleetPerNs / hosts;
            _shareBurst = Math.Max(1, (rule.Burst ?? 1) / (double)hosts);
        }
    }

    /// <summary>The sync interval the gate's holds are sized by, ns.</summary>
    public long SyncNs => _syncNs;

    /// <summary>
    /// True while the store answers: grants decide. False: a key with a grant goes on with what is left of it,
    /// refilled at this host's share of the rate from that moment (at most the share's burst), so a store that
    /// comes and goes does not hand each key a fresh share every time; a key never granted goes by the local share.
    /// True from the start, before the first round: what the local share admits for a key before its first grant is
    /// then a hit the store charges, as it is later; recorded uncharged (as while the store is away) it would come on
    /// top of the full bucket the store starts a new key with, and a fleet starting with traffic would admit its
    /// burst twice.
    /// </summary>
    public bool Shared
    {
        get => _shared;
        set
        {
            if (_shared && !value)
            {
                // Between packets, and only when the store goes away: the share's refill starts now.
                foreach (var key in _keys.Keys)
                {
                    CollectionsMarshal.GetValueRefOrNullRef(_keys, key).RefilledAtNs = _lastNs;
                }
            }

            _shared = value;
        }
    }

    /// <summary>Keys with hits or a grant.</summary>
    public int Keys => _keys.Count;

    /// <summary>Packets of keys the table had no room for (decided by the local share, not exchanged).</summary>
    public long Untracked { get; private set; }

    /// <summary>Packets decided by a grant, since start.</summary>
    public long GrantDecided { get; private set; }

    /// <summary>Packets decided by the local share, since start.</summary>
    public long ShareDecided { get; private set; }

    /// <summary>
    /// After <see cref="Decide"/> passed a packet by its grant: how long to hold its key, when the packet spent the
    /// grant (no packet more fits in it), until the next grant is due; else 0.
    /// </summary>
    public long HoldAfterPassNs { get; private set; }

    /// <summary>Decides one packet of the rule, at <paramref name="cost"/>; <paramref name="local"/> is the rule's limiter at this host's share.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public LimitDecision Decide(in PacketMeta packet, long cost, KeyedRuleLimiter local)
    {
        var key = HeldKey.Of(_per, packet);
        ref var entry = ref CollectionsMarshal.GetValueRefOrNullRef(_keys, key);
        if (Unsafe.IsNullRef(ref entry))
        {
            if (_keys.Count >= _maxKeys)
            {
                Untracked++;
                ShareDecided++;
                return local.Decide(packet, cost);
            }

            entry = ref CollectionsMarshal.GetValueRefOrAddDefault(_keys, key, out _);
        }

        entry.Demand += cost;
        HoldAfterPassNs = 0;
        var now = packet.TimestampNs;
        _lastNs = now;
        if (entry.Granted && (_shared || _sharePerNs > 0))
        {
            if (_shared)
            {
                GrantDecided++;
                Overdue(ref entry, now);
            }
            else
            {
                ShareDecided++;
                Refill(ref entry, now);
            }

            if (entry.Allowance >= cost)
            {
                entry.Allowance -= cost;
                if (_shared)
                {
                    entry.Hits += cost;
                }
                else
                {
                    entry.ShareHits += cost;
                }

                local.CountPassed(packet);
                if (entry.Allowance < 1)
                {
                    HoldAfterPassNs = Wait(entry, 1, now);
                }

                return new LimitDecision(LimitOutcome.Passed, 0);
            }

            // Limited until the next grant, or until the share has refilled enough.
            local.CountBlocked(packet);
            return new LimitDecision(LimitOutcome.Limited, Wait(entry, cost, now));
        }

        ShareDecided++;
        var decision = local.Decide(packet, cost);
        if (decision.Outcome == LimitOutcome.Passed)
        {
            // Charged by the store when it answers (a key before its first grant), recorded only when it is away.
            if (Shared)
            {
                entry.Hits += cost;
            }
            else
            {
                entry.ShareHits += cost;
            }
        }

        return decision;
    }

    /// <summary>
    /// Counts a packet that got past the kernel before its key's hold was installed as passed: a hit the store learns
    /// at the next sync (so the fleet's count includes it and the next grant is that much smaller), taken from the key's
    /// allowance even below zero, or, while the local share decides, charged to <paramref name="local"/> whatever its
    /// limit. Returns how long from the packet's time the key would refuse one more packet.
    /// </summary>
    public long Charge(in PacketMeta packet, long cost, KeyedRuleLimiter local)
    {
        ref var entry = ref CollectionsMarshal.GetValueRefOrNullRef(_keys, HeldKey.Of(_per, packet));
        if (Unsafe.IsNullRef(ref entry))
        {
            return local.Charge(packet, cost);
        }

        entry.Demand += cost;
        var now = packet.TimestampNs;
        long retry;
        if (entry.Granted && (_shared || _sharePerNs > 0))
        {
            Refresh(ref entry, now);
            entry.Allowance -= cost;
            local.CountPassed(packet);
            retry = entry.Allowance >= 1 ? 0 : Wait(entry, 1, now);
        }
        else
        {
            retry = local.Charge(packet, cost);
        }

        if (_shared)
        {
            entry.Hits += cost;
        }
        else
        {
            entry.ShareHits += cost;
        }

        return retry;
    }

    /// <summary>
    /// Counts a packet a kernel set stopped as demand (the host was offered it, though it never reached a limiter),
    /// and answers how long its key must stay held from now: while its grant is spent, until the next grant is due
    /// (0 when a grant has come); else <paramref name="localRetryNs"/>, the local share's answer.
    /// </summary>
    public long CountHeld(in PacketMeta packet, long cost, long localRetryNs)
    {
        ref var entry = ref CollectionsMarshal.GetValueRefOrNullRef(_keys, HeldKey.Of(_per, packet));
        if (Unsafe.IsNullRef(ref entry))
        {
            return localRetryNs;
        }

        entry.Demand += cost;
        if (entry.Granted && (_shared || _sharePerNs > 0))
        {
            Refresh(ref entry, packet.TimestampNs);
            return entry.Allowance >= cost ? 0 : Wait(entry, cost, packet.TimestampNs);
        }

        return localRetryNs;
    }

    /// <summary>
    /// How long a key with <paramref name="entry"/>'s allowance waits for <paramref name="cost"/>: until its grant is
    /// overdue and its rate has refilled it, or (the store away) until the share has refilled it.
    /// </summary>
    private long Wait(in Entry entry, long cost, long nowNs) =>
        _shared ? UntilNextGrant(entry, cost, nowNs) : (long)Math.Ceiling((cost - entry.Allowance) / _sharePerNs);

    /// <summary>Brings <paramref name="entry"/>'s allowance to <paramref name="nowNs"/>: an overdue grant's rate while the store answers, the share's refill while it is away.</summary>
    private void Refresh(ref Entry entry, long nowNs)
    {
        if (_shared)
        {
            Overdue(ref entry, nowNs);
        }
        else
        {
            Refill(ref entry, nowNs);
        }
    }

    /// <summary>
    /// A grant not followed by the next within <see cref="OverdueNs"/> (its round is late: a busy machine, a slow store)
    /// refills at the key's rate of its last grant, this host's part of the fleet's demand times the rule's rate, from
    /// that moment, up to one sync of that rate: the host goes on admitting what the fleet set aside for it instead of
    /// holding the key until the round comes, as a late lease is used on. What it admits is charged when the round
    /// comes, and the grant after it is that much smaller.
    /// </summary>
    private void Overdue(ref Entry entry, long nowNs)
    {
        var dueNs = entry.GrantedAtNs + OverdueNs;
        var fromNs = Math.Max(entry.RefilledAtNs, dueNs);
        if (nowNs > fromNs && entry.RatePerNs > 0)
        {
            var cap = Math.Max(1, entry.RatePerNs * _syncNs);
            if (entry.Allowance < cap)
            {
                entry.Allowance = Math.Min(cap, entry.Allowance + ((nowNs - fromNs) * entry.RatePerNs));
            }

            entry.RefilledAtNs = nowNs;
        }
    }

    /// <summary>How long after a grant the next is overdue: a sync, and half a sync more for the round trip and a round a little late.</summary>
    private long OverdueNs => _syncNs + (_syncNs / 2);

    /// <summary>The store away: the allowance refills at this host's share of the rate since the last refill, up to the share's burst (a larger rest of a grant is kept, not refilled).</summary>
    private void Refill(ref Entry entry, long nowNs)
    {
        if (nowNs > entry.RefilledAtNs)
        {
            if (entry.Allowance < _shareBurst)
            {
                entry.Allowance = Math.Min(_shareBurst, entry.Allowance + ((nowNs - entry.RefilledAtNs) * _sharePerNs));
            }

            entry.RefilledAtNs = nowNs;
        }
    }

    /// <summary>
    /// How long from <paramref name="nowNs"/> until <paramref name="entry"/>'s allowance has <paramref name="cost"/>
    /// without a new grant: until its grant is overdue and then for its rate to refill it. A key with no rate (its
    /// share of the fleet's demand was 0) waits until the grant is overdue, at least half a sync, and asks again.
    /// </summary>
    private long UntilNextGrant(in Entry entry, long cost, long nowNs)
    {
        var dueNs = entry.GrantedAtNs + OverdueNs;
        if (entry.RatePerNs <= 0)
        {
            return Math.Max(dueNs - nowNs, _syncNs / 2);
        }

        return Math.Max(dueNs - nowNs, 0) + (long)Math.Ceiling(Math.Max(0, cost - entry.Allowance) / entry.RatePerNs);
    }

    /// <summary>
    /// Moves every key's hits and demand since the last harvest into <paramref name="into"/> and forgets keys with
    /// neither and no grant. A granted key that went idle is sent once with nothing (<see cref="FleetDelta.Demand"/> 0):
    /// the store then counts this host out of the key's demand and frees what its last grant held, at once instead of
    /// when this host's entry expires, so the hosts the key's traffic moved to get the whole room.
    /// </summary>
    public void Harvest(string rule, List<FleetDelta> into)
    {
        List<HeldKey>? idle = null;
        foreach (var (key, value) in _keys)
        {
            ref var entry = ref CollectionsMarshal.GetValueRefOrNullRef(_keys, key);
            if (value.Demand == 0 && value.Hits == 0 && value.ShareHits == 0)
            {
                if (!value.Granted)
                {
                    (idle ??= []).Add(key);
                }
                else if (!value.Idle)
                {
                    entry.Idle = true;
                    into.Add(new FleetDelta(rule, key, 0, 0));
                }

                continue;
            }

            into.Add(new FleetDelta(rule, key, value.Hits, value.Demand, value.ShareHits));
            entry.Idle = false;
            entry.Hits = 0;
            entry.ShareHits = 0;
            entry.Demand = 0;
        }

        if (idle is not null)
        {
            foreach (var key in idle)
            {
                _keys.Remove(key);
            }
        }
    }

    /// <summary>
    /// Takes one exchange's grants at <paramref name="nowNs"/>: each granted key gets its allowance; a key the
    /// exchange did not answer for loses its old grant (its next packets go by the local share until one comes).
    /// Adds to <paramref name="regranted"/> the keys whose new allowance admits a packet, which a hold for their
    /// spent grant no longer needs to stop.
    /// </summary>
    public void Apply(IEnumerable<FleetGrant> grants, long nowNs, List<HeldKey> regranted)
    {
        ArgumentNullException.ThrowIfNull(regranted);
        foreach (var key in _keys.Keys)
        {
            CollectionsMarshal.GetValueRefOrNullRef(_keys, key).Granted = false;
        }

        foreach (var grant in grants)
        {
            // Only keys this engine has seen: with several capture lanes each lane's engine holds its own keys.
            ref var entry = ref CollectionsMarshal.GetValueRefOrNullRef(_keys, grant.Key);
            if (Unsafe.IsNullRef(ref entry) || entry.Idle)
            {
                // A key reported idle is answered with nothing: it goes ungranted, and is forgotten at the next
                // harvest unless its packets come back (then the local share decides them until a grant does).
                continue;
            }

            // A fraction of a packet cannot be spent, and grants replace each other: with many hosts each one's share
            // of a round's room is often below one (100 hosts, 30 packets of room: 0.3 each), and would pass nothing.
            // Rounded up with the fraction's probability instead, the grants add up to the room on average.
            // The grant reserved the key's room as of the harvest: what the key admitted since (by its old grant, while
            // the round was on its way) comes out of it, or the old grant's rest would be spent twice.
            var allowance = Math.Max(0, grant.Allowance - entry.Hits);
            var whole = Math.Floor(allowance);
            entry.Granted = true;
            entry.Allowance = whole + (_random.NextDouble() < allowance - whole ? 1 : 0);
            entry.GrantedAtNs = nowNs;
            entry.RefilledAtNs = nowNs;
            entry.RatePerNs = grant.Share * _fleetPerNs;
            if (entry.Allowance >= 1)
            {
                regranted.Add(grant.Key);
            }
        }
    }

    private struct Entry
    {
        public long Hits;
        public long ShareHits;
        public long Demand;
        public double Allowance;
        public long GrantedAtNs;
        public long RefilledAtNs;
        public bool Granted;
        public double RatePerNs;
        public bool Idle;
    }
}
