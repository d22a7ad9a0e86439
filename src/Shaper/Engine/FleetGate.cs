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
/// counted in <see cref="Untracked"/>.
/// <para>
/// An observe rule's key whose grant a passed packet has spent is held in the kernel drop set at once
/// (<see cref="HoldAfterPassNs"/>), until the next grant is due and half a sync more: the kernel stops the key's next
/// packets instead of letting in the one whose refusal would raise the hold (one packet through per host per sync
/// otherwise). A grant that comes while the key is held releases it (<see cref="Apply"/> returns those keys); one that
/// comes late keeps it held (<see cref="CountHeld"/> answers how much longer).
/// </para>
/// </summary>
internal sealed class FleetGate
{
    private readonly Dictionary<HeldKey, Entry> _keys;
    private readonly KeyScope _per;
    private readonly int _maxKeys;
    private readonly long _syncNs;
    private readonly Random _random = new();

    public FleetGate(Rule rule, int maxKeys, long syncNs)
    {
        _per = rule.Per;
        _maxKeys = maxKeys;
        _syncNs = syncNs;
        _keys = new Dictionary<HeldKey, Entry>(Math.Min(maxKeys, 4096));
    }

    /// <summary>True while the store answers: grants decide; false: the local share decides every key.</summary>
    public bool Shared { get; set; }

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
        if (Shared && entry.Granted)
        {
            GrantDecided++;
            if (entry.Allowance >= cost)
            {
                entry.Allowance -= cost;
                entry.Hits += cost;
                local.CountPassed(packet);
                if (entry.Allowance < 1)
                {
                    HoldAfterPassNs = UntilNextGrant(entry, packet.TimestampNs);
                }

                return new LimitDecision(LimitOutcome.Passed, 0);
            }

            // Limited until the next grant.
            local.CountBlocked(packet);
            return new LimitDecision(LimitOutcome.Limited, UntilNextGrant(entry, packet.TimestampNs));
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
        if (Shared && entry.Granted)
        {
            return entry.Allowance >= cost ? 0 : UntilNextGrant(entry, packet.TimestampNs);
        }

        return localRetryNs;
    }

    /// <summary>
    /// How long from <paramref name="nowNs"/> until the grant after <paramref name="entry"/>'s is due (a sync after it)
    /// and half a sync more for the round trip and a late round: at least half a sync.
    /// </summary>
    private long UntilNextGrant(in Entry entry, long nowNs) => Math.Max(entry.GrantedAtNs + _syncNs + (_syncNs / 2) - nowNs, _syncNs / 2);

    /// <summary>Moves every key's hits and demand since the last harvest into <paramref name="into"/> and forgets keys with neither and no grant.</summary>
    public void Harvest(string rule, List<FleetDelta> into)
    {
        List<HeldKey>? idle = null;
        foreach (var (key, value) in _keys)
        {
            if (value.Demand == 0 && value.Hits == 0 && value.ShareHits == 0)
            {
                if (!value.Granted)
                {
                    (idle ??= []).Add(key);
                }

                continue;
            }

            into.Add(new FleetDelta(rule, key, value.Hits, value.Demand, value.ShareHits));
            ref var entry = ref CollectionsMarshal.GetValueRefOrNullRef(_keys, key);
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
            if (Unsafe.IsNullRef(ref entry))
            {
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
        public bool Granted;
    }
}
