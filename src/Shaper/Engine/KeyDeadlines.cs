using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Shaper.Engine;

/// <summary>
/// Per rule and key, a span of packet time (since, until): how long a key stays in a kernel set, or which window
/// it was last logged in; and when the span's run began (a hold's first raise, kept while it is extended). Bounded like the limiter tables: at most <c>max</c> entries; when full, spans that have
/// ended are forgotten (at most once a second of packet time), and a new key that still finds no room is not
/// tracked (<see cref="Set"/> says so). Single-threaded, like the engine; no allocation once warm.
/// </summary>
internal sealed class KeyDeadlines
{
    private readonly Dictionary<(int Rule, HeldKey Key), (long SinceNs, long UntilNs, long StartNs)> _entries;
    private readonly int[] _perRule;
    private readonly int _max;
    private long _nextSweepNs;

    /// <summary>Tracks at most <paramref name="max"/> keys over <paramref name="rules"/> rules.</summary>
    public KeyDeadlines(int rules, int max)
    {
        _max = Math.Max(max, 1);
        _perRule = new int[rules];
        _entries = new(Math.Min(_max, 4096));

        // The lookup every packet makes once any key is blocked or held, compiled now: otherwise the packet after the
        // first block of an attack would wait for the JIT, and the offenders crossing with it behind that packet.
        RuntimeHelpers.PrepareMethod(typeof(KeyDeadlines).GetMethod(nameof(TryGet))!.MethodHandle);
    }

    /// <summary>Keys tracked, over every rule.</summary>
    public int Count => _entries.Count;

    /// <summary>Keys tracked for <paramref name="rule"/>.</summary>
    public int CountOf(int rule) => _perRule[rule];

    /// <summary>
    /// The span of <paramref name="key"/> under <paramref name="rule"/>, if tracked. Like <see cref="Set"/>, compiled
    /// optimized on first call (the first attack calls both a thousand times before tiered compilation would promote them).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryGet(int rule, in HeldKey key, out (long SinceNs, long UntilNs, long StartNs) span)
    {
        ref var slot = ref CollectionsMarshal.GetValueRefOrNullRef(_entries, (rule, key));
        if (Unsafe.IsNullRef(ref slot))
        {
            span = default;
            return false;
        }

        span = slot;
        return true;
    }

    /// <summary>
    /// Sets the span of a key, whose run began at <paramref name="startNs"/> (by default the span's own start); false
    /// when the table is full of spans that have not ended.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Set(int rule, in HeldKey key, long sinceNs, long untilNs, long nowNs, long? startNs = null)
    {
        ref var slot = ref CollectionsMarshal.GetValueRefOrNullRef(_entries, (rule, key));
        if (!Unsafe.IsNullRef(ref slot))
        {
            slot = (sinceNs, untilNs, startNs ?? sinceNs);
            return true;
        }

        if (_entries.Count >= _max && nowNs >= _nextSweepNs)
        {
            _nextSweepNs = nowNs + 1_000_000_000;
            Sweep(nowNs);
        }

        if (_entries.Count >= _max)
        {
            return false;
        }

        _entries[(rule, key)] = (sinceNs, untilNs, startNs ?? sinceNs);
        _perRule[rule]++;
        return true;
    }

    /// <summary>Forgets <paramref name="key"/> under <paramref name="rule"/>.</summary>
    public void Remove(int rule, in HeldKey key)
    {
        if (_entries.Remove((rule, key)))
        {
            _perRule[rule]--;
        }
    }

    /// <summary>Copies the spans of <paramref name="fromRule"/> in <paramref name="from"/> as this table's <paramref name="toRule"/> (a reload), as far as there is room.</summary>
    public void CopyRule(KeyDeadlines from, int fromRule, int toRule)
    {
        ArgumentNullException.ThrowIfNull(from);
        foreach (var (entry, span) in from._entries)
        {
            if (entry.Rule == fromRule && _entries.Count < _max && _entries.TryAdd((toRule, entry.Key), span))
            {
                _perRule[toRule]++;
            }
        }
    }

    /// <summary>Readies the table for <paramref name="count"/> keys without allocating on the packet path later.</summary>
    public void Reserve(int count) => _entries.EnsureCapacity(Math.Min(count, _max));

    /// <summary>Forgets every span.</summary>
    public void Clear()
    {
        _entries.Clear();
        Array.Clear(_perRule);
    }

    private void Sweep(long nowNs)
    {
        foreach (var (entry, span) in _entries)
        {
            if (span.UntilNs <= nowNs)
            {
                _entries.Remove(entry);
                _perRule[entry.Rule]--;
            }
        }
    }
}
