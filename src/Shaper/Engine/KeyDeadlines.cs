using System.Runtime.CompilerServices;

namespace Shaper.Engine;

/// <summary>
/// Per rule and key, a span of packet time (since, until): how long a key stays in a kernel set, or which window
/// it was last logged in; and when the span's run began (a hold's first raise, kept while it is extended). Bounded like the limiter tables: at most <c>max</c> entries; when full, spans that have
/// ended are forgotten (at most once a second of packet time), and a new key that still finds no room is not
/// tracked (<see cref="Set"/> says so). Single-threaded, like the engine; no allocation once warm.
/// <para>
/// An open-addressing table of its own (linear probing, at most half full, deletion by shifting back) rather than a
/// <see cref="Dictionary{TKey,TValue}"/>: that is generic code of the runtime's library over this assembly's key, which
/// ReadyToRun cannot precompile, so the first attack after a start ran its lookups and inserts unoptimized on the
/// capture thread, for every packet once a key was blocked. This one's lookup and insert are compiled optimized on
/// their first call (the engine's rehearsal at its start makes it), the rest precompiled with the assembly.
/// </para>
/// </summary>
internal sealed class KeyDeadlines
{
    /// <summary>The first table's slots (half of them usable before it doubles).</summary>
    private const int InitialSlots = 64;

    private readonly int[] _perRule;
    private readonly int _max;
    private Slot[] _slots = new Slot[InitialSlots];
    private int _count;
    private long _nextSweepNs;

    /// <summary>Tracks at most <paramref name="max"/> keys over <paramref name="rules"/> rules.</summary>
    public KeyDeadlines(int rules, int max)
    {
        _max = Math.Max(max, 1);
        _perRule = new int[rules];

        // The lookup every packet makes once any key is blocked or held, compiled now (it and the key's hash): otherwise
        // the packet after the first block of an attack would wait for the JIT, and the offenders crossing with it behind that packet.
        _ = TryGet(0, default, out _);
    }

    /// <summary>Keys tracked, over every rule.</summary>
    public int Count => _count;

    /// <summary>Keys tracked for <paramref name="rule"/>.</summary>
    public int CountOf(int rule) => _perRule[rule];

    /// <summary>The span of <paramref name="key"/> under <paramref name="rule"/>, if tracked.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryGet(int rule, in HeldKey key, out (long SinceNs, long UntilNs, long StartNs) span)
    {
        var index = Find(rule, key);
        if (index < 0)
        {
            span = default;
            return false;
        }

        ref var slot = ref _slots[index];
        span = (slot.SinceNs, slot.UntilNs, slot.StartNs);
        return true;
    }

    /// <summary>
    /// Sets the span of a key, whose run began at <paramref name="startNs"/> (by default the span's own start); false
    /// when the table is full of spans that have not ended.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Set(int rule, in HeldKey key, long sinceNs, long untilNs, long nowNs, long? startNs = null)
    {
        var index = Find(rule, key);
        if (index >= 0)
        {
            ref var slot = ref _slots[index];
            (slot.SinceNs, slot.UntilNs, slot.StartNs) = (sinceNs, untilNs, startNs ?? sinceNs);
            return true;
        }

        if (_count >= _max && nowNs >= _nextSweepNs)
        {
            _nextSweepNs = nowNs + 1_000_000_000;
            Sweep(nowNs);
        }

        if (_count >= _max)
        {
            return false;
        }

        Add(rule, key, (sinceNs, untilNs, startNs ?? sinceNs));
        return true;
    }

    /// <summary>Forgets <paramref name="key"/> under <paramref name="rule"/>.</summary>
    public void Remove(int rule, in HeldKey key)
    {
        if (Find(rule, key) is var index and >= 0)
        {
            RemoveAt(index);
        }
    }

    /// <summary>Copies the spans of <paramref name="fromRule"/> in <paramref name="from"/> as this table's <paramref name="toRule"/> (a reload), as far as there is room.</summary>
    public void CopyRule(KeyDeadlines from, int fromRule, int toRule)
    {
        ArgumentNullException.ThrowIfNull(from);
        foreach (var slot in from._slots)
        {
            if (slot.Used && slot.Rule == fromRule && _count < _max && Find(toRule, slot.Key()) < 0)
            {
                Add(toRule, slot.Key(), (slot.SinceNs, slot.UntilNs, slot.StartNs));
            }
        }
    }

    /// <summary>Readies the table for <paramref name="count"/> keys without allocating on the packet path later.</summary>
    public void Reserve(int count)
    {
        var slots = _slots.Length;
        while (slots / 2 < Math.Min(count, _max))
        {
            slots *= 2;
        }

        if (slots > _slots.Length)
        {
            Rehash(slots);
        }
    }

    /// <summary>Forgets every span.</summary>
    public void Clear()
    {
        Array.Clear(_slots);
        Array.Clear(_perRule);
        _count = 0;
    }

    /// <summary>The slot holding the key, or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int Find(int rule, in HeldKey key)
    {
        var slots = _slots;
        var mask = slots.Length - 1;
        for (var i = Home(rule, key, mask); ; i = (i + 1) & mask)
        {
            ref var slot = ref slots[i];
            if (!slot.Used)
            {
                return -1;
            }

            if (slot.Rule == rule && slot.Is(key))
            {
                return i;
            }
        }
    }

    /// <summary>Adds a key not in the table (which has room under the cap), doubling it first when it would be over half full.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Add(int rule, in HeldKey key, (long SinceNs, long UntilNs, long StartNs) span)
    {
        if ((_count + 1) * 2 > _slots.Length)
        {
            Rehash(_slots.Length * 2);
        }

        Place(Slot.Of(rule, key, span));
        _count++;
        _perRule[rule]++;
    }

    /// <summary>Puts a slot in the first free place from its key's home.</summary>
    private void Place(in Slot slot)
    {
        var mask = _slots.Length - 1;
        var i = Home(slot.Rule, slot.Key(), mask);
        while (_slots[i].Used)
        {
            i = (i + 1) & mask;
        }

        _slots[i] = slot;
    }

    private void Rehash(int slots)
    {
        var old = _slots;
        _slots = new Slot[slots];
        foreach (var slot in old)
        {
            if (slot.Used)
            {
                Place(slot);
            }
        }
    }

    /// <summary>
    /// Empties slot <paramref name="index"/> and moves back every later slot of its run that its key's home allows, so
    /// that no lookup stops early at the hole (Knuth's deletion for linear probing, TAOCP vol. 3, 6.4, algorithm R).
    /// </summary>
    private void RemoveAt(int index)
    {
        _perRule[_slots[index].Rule]--;
        _count--;
        var mask = _slots.Length - 1;
        var hole = index;
        for (var i = (hole + 1) & mask; _slots[i].Used; i = (i + 1) & mask)
        {
            // The slot at i may fill the hole when its home is not cyclically in (hole, i].
            var home = Home(_slots[i].Rule, _slots[i].Key(), mask);
            if (((i - home) & mask) >= ((i - hole) & mask))
            {
                _slots[hole] = _slots[i];
                hole = i;
            }
        }

        _slots[hole] = default;
    }

    /// <summary>
    /// Forgets every span that has ended. Starts just after a free slot, so that each run is walked from its start
    /// and a slot moved back into the place being looked at is looked at again.
    /// </summary>
    private void Sweep(long nowNs)
    {
        var mask = _slots.Length - 1;
        var start = 0;
        while (_slots[start].Used)
        {
            start++; // the table is at most half full: a free slot exists
        }

        for (var n = 0; n < _slots.Length; n++)
        {
            var i = (start + 1 + n) & mask;
            while (_slots[i].Used && _slots[i].UntilNs <= nowNs)
            {
                RemoveAt(i);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Home(int rule, in HeldKey key, int mask) => (key.GetHashCode() ^ (rule * -1640531535)) & mask;

    /// <summary>A key and its span, the key's fields laid out flat (56 bytes, where a <see cref="HeldKey"/> field, 16-byte aligned for its address, made it 96).</summary>
    private struct Slot
    {
        public ulong AddressLow;
        public ulong AddressHigh;
        public long SinceNs;
        public long UntilNs;
        public long StartNs;
        public int Rule;
        public int PrefixLength;
        public ushort Port;
        public Packets.IpFamily Family;
        public byte Kind;
        public bool Used;

        public static Slot Of(int rule, in HeldKey key, (long SinceNs, long UntilNs, long StartNs) span) => new()
        {
            AddressLow = (ulong)key.Address,
            AddressHigh = (ulong)(key.Address >> 64),
            SinceNs = span.SinceNs,
            UntilNs = span.UntilNs,
            StartNs = span.StartNs,
            Rule = rule,
            PrefixLength = key.PrefixLength,
            Port = key.Port,
            Family = key.Family,
            Kind = (byte)key.Kind,
            Used = true,
        };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly bool Is(in HeldKey key) =>
            AddressLow == (ulong)key.Address && AddressHigh == (ulong)(key.Address >> 64) && PrefixLength == key.PrefixLength
            && Port == key.Port && Family == key.Family && Kind == (byte)key.Kind;

        public readonly HeldKey Key() => new(Family, ((UInt128)AddressHigh << 64) | AddressLow, PrefixLength, Port, (Rules.KeyKind)Kind);
    }
}
