namespace Shaper.Engine;

/// <summary>
/// The last <see cref="Size"/> rounds a kernel thread reported, for the engine threads to read without locks: one
/// writer puts each round into a ring in the order they run and publishes it by a volatile write of the count; a reader
/// reads the count, the rounds it needs, and then <see cref="Overrun"/> to learn whether the writer went round the ring
/// while it read.
/// </summary>
/// <typeparam name="TRound">A round: a small struct.</typeparam>
internal sealed class RoundRing<TRound>
    where TRound : struct
{
    /// <summary>Rounds remembered: at least a second of rounds one millisecond apart.</summary>
    public const int Size = 1024;

    private readonly TRound[] _rounds = new TRound[Size];
    private long _count;

    /// <summary>Rounds reported so far (published ones only).</summary>
    public long Count => Volatile.Read(ref _count);

    /// <summary>The oldest round the ring still holds when <paramref name="count"/> have been reported.</summary>
    public static long Oldest(long count) => Math.Max(0, count - Size);

    /// <summary>Round number <paramref name="index"/> (at least <see cref="Oldest"/> of the count read).</summary>
    public TRound this[long index] => _rounds[index % Size];

    /// <summary>Reports a round; by one thread only.</summary>
    public void Add(in TRound round)
    {
        var count = _count;
        _rounds[count % Size] = round;
        Volatile.Write(ref _count, count + 1);
    }

    /// <summary>True when the writer has overwritten round <paramref name="oldest"/> since the reader read the count: what it read may be torn.</summary>
    public bool Overrun(long oldest) => Volatile.Read(ref _count) - oldest > Size;
}
