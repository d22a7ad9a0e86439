namespace Shaper.Engine;

/// <summary>
/// When the kernel let held keys go: the release rounds of the observe rules' drop and reject sets, as the thread that
/// takes keys out of them reports each round, for the engines to tell whether the kernel still stopped a key's packet
/// that arrived after its hold ended. A release is a netlink transaction that starts when the hold ends and may come
/// late (a busy host, a garbage collection); a packet arriving before it commits is dropped by the kernel. Counting
/// such a packet as passed would put into a sliding log or bucket a packet that never got in, one fewer for the rest of
/// its window; with this record the engine counts it held, as the kernel did.
/// <para>
/// One writer (the release thread) and any number of readers (the engine threads), without locks (<see cref="RoundRing{TRound}"/>).
/// </para>
/// </summary>
public sealed class KernelReleases
{
    private readonly RoundRing<Round> _rounds = new();

    /// <summary>
    /// A record for sets whose elements time out by themselves at most <paramref name="expiryCapNs"/> after their hold
    /// ends: how long a key whose release has not been reported yet can still be in the kernel.
    /// </summary>
    public KernelReleases(long expiryCapNs)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(expiryCapNs);
        ExpiryCapNs = expiryCapNs;
    }

    /// <summary>How long past its hold's end a key can stay in the kernel when no release takes it out: its element's own timeout.</summary>
    public long ExpiryCapNs { get; }

    /// <summary>
    /// Reports a release round: every key whose hold ends at or before <paramref name="dueThroughNs"/> is out of the
    /// kernel as of <paramref name="releasedAtNs"/> (the round's transaction answered). Both on the engines' packet
    /// clock; rounds are reported in the order they run, so their due times never go back. Called by one thread.
    /// </summary>
    public void Report(long dueThroughNs, long releasedAtNs)
    {
        _rounds.Add(new Round(dueThroughNs, releasedAtNs));
    }

    /// <summary>
    /// True when the kernel stopped a packet at <paramref name="atNs"/> of a key whose hold ends at
    /// <paramref name="untilNs"/>: the round that took the key out answered after the packet (a round starts a little
    /// before the holds it takes out end, so it may answer before the end or after it), or no round has yet and the
    /// element's own timeout had not run out.
    /// </summary>
    public bool StillStops(long untilNs, long atNs)
    {
        var count = _rounds.Count;
        var oldest = RoundRing<Round>.Oldest(count);
        Round? covering = null; // the earliest round whose due time reaches the hold's end: the one that took the key out
        var i = count - 1;
        for (; i >= oldest; i--)
        {
            var round = _rounds[i];
            if (round.DueThroughNs < untilNs)
            {
                break;
            }

            covering = round;
        }

        if ((i < oldest && oldest > 0) || _rounds.Overrun(oldest))
        {
            // The key went out in a round older than the ring holds, or the writer went round the ring while this read
            // it: either way, that round is long over.
            return false;
        }

        return covering is { } taken ? atNs < taken.ReleasedAtNs : atNs < untilNs + ExpiryCapNs;
    }

    private readonly record struct Round(long DueThroughNs, long ReleasedAtNs);
}
