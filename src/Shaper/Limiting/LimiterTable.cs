using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Shaper.Limiting;

/// <summary>
/// Per-key limiter state in one flat, open-addressing (linear probing) table of structs. The table never
/// grows: it holds at most <see cref="Capacity"/> keys in <c>Capacity × 5/4</c> slots allocated up front,
/// so its memory is fixed by configuration. When a new key arrives and the table is full, it evicts a key
/// from the new key's probe neighbourhood: the first idle one (its state equals a fresh key's, so nothing
/// is lost), else the least recently seen of those sampled (an approximate LRU, as Redis samples).
/// Not thread-safe: one table belongs to one engine thread.
/// </summary>
/// <typeparam name="TKey">The key (address, prefix, or address and port).</typeparam>
/// <typeparam name="TState">The algorithm's per-key state.</typeparam>
/// <typeparam name="TLimiter">The algorithm; a struct so that every call is specialised and inlined.</typeparam>
public sealed class LimiterTable<TKey, TState, TLimiter>
    where TKey : unmanaged, ILimiterKey<TKey>
    where TState : unmanaged
    where TLimiter : struct, IKeyedLimiter<TState>
{
    /// <summary>How many occupied slots from the new key's home an eviction looks at.</summary>
    private const int EvictionSample = 16;

    private readonly Entry[] _entries;
    private readonly ulong[] _occupied;
    private readonly uint _slots;
    private TLimiter _limiter;

    /// <summary>Creates a table holding at most <paramref name="capacity"/> keys of <paramref name="limiter"/>.</summary>
    public LimiterTable(TLimiter limiter, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, 1 << 28);

        // Load factor at most 0.8: linear probing stays short, and a full table keeps free slots
        // to end every probe run.
        _slots = (uint)Math.Max(capacity + (capacity / 4), capacity + 1);
        _entries = Interop.HugePages.Allocate<Entry>((int)_slots);
        _occupied = new ulong[(_slots + 63) / 64];
        _limiter = limiter;
        Capacity = capacity;
    }

    /// <summary>The most keys the table holds.</summary>
    public int Capacity { get; }

    /// <summary>Keys tracked now.</summary>
    public int Count { get; private set; }

    /// <summary>Keys evicted to make room since the table was created.</summary>
    public long Evictions { get; private set; }

    /// <summary>The algorithm the table runs.</summary>
    public TLimiter Limiter => _limiter;

    /// <summary>Bytes the table holds for its slots and occupancy bitmap, fixed at construction.</summary>
    public long MemoryBytes => ((long)_slots * Unsafe.SizeOf<Entry>()) + ((long)_occupied.Length * sizeof(ulong));

    /// <summary>Decides one arrival for <paramref name="key"/> at <paramref name="nowNs"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public LimitDecision Acquire(in TKey key, long nowNs, long cost)
    {
        ref var entry = ref GetOrAdd(key, nowNs);
        return _limiter.Acquire(ref entry.State, nowNs, cost);
    }

    /// <summary>
    /// Asks the CPU to start loading the slot where a lookup of <paramref name="key"/> begins, so that a caller
    /// that knows its next keys (replay, a batch of packets) overlaps the cache misses of a large table instead
    /// of waiting for each in turn. Only a hint: it changes nothing and never faults.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void Prefetch(in TKey key)
    {
        if (Sse.IsSupported)
        {
            // A stale address (should the array move) costs a wasted prefetch, nothing else.
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_entries), Home(key))));
        }
    }

    /// <summary>The state of <paramref name="key"/>, added (and initialised at <paramref name="nowNs"/>) when new.</summary>
    public ref TState GetOrAddState(in TKey key, long nowNs) => ref GetOrAdd(key, nowNs).State;

    /// <summary>
    /// Copies every entry into <paramref name="target"/> as it is, without initialising (for growing a
    /// table into a larger one); false when the target is too small to hold them.
    /// </summary>
    public bool TryCopyTo(LimiterTable<TKey, TState, TLimiter> target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (target.Capacity - target.Count < Count)
        {
            return false;
        }

        for (uint i = 0; i < _slots; i++)
        {
            if (!IsOccupied(i))
            {
                continue;
            }

            var slot = target.Home(_entries[i].Key);
            while (target.IsOccupied(slot))
            {
                if (target._entries[slot].Key.Equals(_entries[i].Key))
                {
                    break;
                }

                slot = target.Next(slot);
            }

            if (!target.IsOccupied(slot))
            {
                target.SetOccupied(slot);
                target.Count++;
            }

            target._entries[slot] = _entries[i];
        }

        return true;
    }

    /// <summary>The <c>X-Ratelimit-*</c> status of a tracked key; false when the key is not tracked.</summary>
    public bool TryGetStatus(in TKey key, long nowNs, long cost, out RateLimitStatus status)
    {
        var index = Find(key);
        if (index < 0)
        {
            status = default;
            return false;
        }

        status = _limiter.GetStatus(_entries[index].State, nowNs, cost);
        return true;
    }

    /// <summary>True when <paramref name="key"/> is tracked.</summary>
    public bool Contains(in TKey key) => Find(key) >= 0;

    /// <summary>Forgets <paramref name="key"/>; true when it was tracked.</summary>
    public bool Remove(in TKey key)
    {
        var index = Find(key);
        if (index < 0)
        {
            return false;
        }

        RemoveAt((uint)index);
        return true;
    }

    /// <summary>Calls <paramref name="visit"/> for every tracked key with its status; for counters, not the hot path.</summary>
    public void ForEach(long nowNs, long cost, Action<TKey, RateLimitStatus> visit)
    {
        ArgumentNullException.ThrowIfNull(visit);
        for (uint i = 0; i < _slots; i++)
        {
            if (IsOccupied(i))
            {
                visit(_entries[i].Key, _limiter.GetStatus(_entries[i].State, nowNs, cost));
            }
        }
    }

    /// <summary>Calls <paramref name="visit"/> with every tracked key and its raw state; for reporting, not the hot path.</summary>
    public void VisitEntries(EntryVisitor<TKey, TState> visit)
    {
        ArgumentNullException.ThrowIfNull(visit);
        for (uint i = 0; i < _slots; i++)
        {
            if (IsOccupied(i))
            {
                visit(_entries[i].Key, _entries[i].State);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref Entry GetOrAdd(in TKey key, long nowNs)
    {
        var i = Home(key);
        while (IsOccupied(i))
        {
            ref var entry = ref _entries[i];
            if (entry.Key.Equals(key))
            {
                return ref entry;
            }

            i = Next(i);
        }

        return ref Insert(key, nowNs, i);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ref Entry Insert(in TKey key, long nowNs, uint freeSlot)
    {
        if (Count >= Capacity)
        {
            Evict(key, nowNs);
            freeSlot = Home(key);
            while (IsOccupied(freeSlot))
            {
                freeSlot = Next(freeSlot);
            }
        }

        ref var entry = ref _entries[freeSlot];
        entry.Key = key;
        entry.State = default;
        _limiter.Initialize(ref entry.State, nowNs);
        SetOccupied(freeSlot);
        Count++;
        return ref entry;
    }

    private void Evict(in TKey incoming, long nowNs)
    {
        // Look at the occupied slots from the incoming key's home onwards: the first idle key loses
        // nothing when evicted; otherwise the least recently seen of the sample goes.
        var i = Home(incoming);
        var victim = uint.MaxValue;
        var oldest = long.MaxValue;
        for (int seen = 0, steps = 0; seen < EvictionSample && steps < _slots; steps++, i = Next(i))
        {
            if (!IsOccupied(i))
            {
                continue;
            }

            seen++;
            ref var entry = ref _entries[i];
            if (_limiter.IsIdle(entry.State, nowNs))
            {
                victim = i;
                break;
            }

            var lastSeen = _limiter.LastSeenNs(entry.State);
            if (lastSeen < oldest)
            {
                oldest = lastSeen;
                victim = i;
            }
        }

        Debug.Assert(victim != uint.MaxValue, "a full table has occupied slots");
        RemoveAt(victim);
        Evictions++;
    }

    private void RemoveAt(uint index)
    {
        _limiter.Release(ref _entries[index].State);

        // Backward-shift deletion: pull later members of the probe run into the hole so that lookups
        // never need tombstones.
        var hole = index;
        var j = index;
        while (true)
        {
            j = Next(j);
            if (!IsOccupied(j))
            {
                break;
            }

            var home = Home(_entries[j].Key);
            var movable = hole <= j ? home <= hole || home > j : home <= hole && home > j;
            if (movable)
            {
                _entries[hole] = _entries[j];
                hole = j;
            }
        }

        ClearOccupied(hole);
        Count--;
    }

    private int Find(in TKey key)
    {
        var i = Home(key);
        while (IsOccupied(i))
        {
            if (_entries[i].Key.Equals(key))
            {
                return (int)i;
            }

            i = Next(i);
        }

        return -1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint Home(in TKey key) => (uint)(((ulong)TKey.Hash(key) * _slots) >> 32);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint Next(uint i) => ++i == _slots ? 0 : i;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool IsOccupied(uint i) => (_occupied[i >> 6] & (1UL << (int)(i & 63))) != 0;

    private void SetOccupied(uint i) => _occupied[i >> 6] |= 1UL << (int)(i & 63);

    private void ClearOccupied(uint i) => _occupied[i >> 6] &= ~(1UL << (int)(i & 63));

    /// <summary>Key and state side by side; packed to 4 bytes so an IPv4 token bucket entry is 20 bytes.</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    private struct Entry
    {
        public TKey Key;
        public TState State;
    }
}
