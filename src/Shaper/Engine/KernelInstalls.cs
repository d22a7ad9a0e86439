namespace Shaper.Engine;

/// <summary>
/// When the kernel took held keys in: the install rounds of one observe rule's drop or reject set, as the thread that
/// installs them reports each round, for the engines to tell whether the kernel already stopped a key's packet that
/// arrived after its hold was raised. The engine sees a packet after it passed the kernel (capture runs behind, by a
/// buffer timeout and more on a busy host), and the install is a netlink transaction after that: a packet of the key
/// that arrived before it committed got in. Counting it held would let the key's limiter hand its place to a later
/// packet, one more than the limit lets through; with this record the engine counts it passed, as the kernel did.
/// <para>
/// One writer (the install thread) and any number of readers (the engine threads), without locks
/// (<see cref="RoundRing{TRound}"/>), rounds in the order they commit. A round covers every hold
/// raised at or before its mark, the latest raise time of its own holds or of any round before it; holds raised on
/// several capture threads may reach the install thread out of order, so a hold may be taken as in a round earlier
/// than its own, never later: such a packet counts held, as it would without this record.
/// </para>
/// </summary>
public sealed class KernelInstalls
{
    private readonly RoundRing<Round> _rounds = new();
    private long _raisedThrough = long.MinValue; // the writer's running mark

    /// <summary>
    /// Reports an install round: the holds it carried were raised at or before <paramref name="raisedNs"/> (the latest
    /// of them) and count as in the kernel from <paramref name="installedAtNs"/>: when the round's transaction was sent,
    /// reported once it answered (the commit is somewhere between, so a packet in between counts held). Both on the
    /// engines' packet clock. Called by one thread, in the order rounds commit.
    /// </summary>
    public void Report(long raisedNs, long installedAtNs)
    {
        _raisedThrough = Math.Max(_raisedThrough, raisedNs);
        _rounds.Add(new Round(_raisedThrough, installedAtNs));
    }

    /// <summary>
    /// True when a hold raised at <paramref name="raisedNs"/> was in the kernel by <paramref name="atNs"/>: the first
    /// round that covers it answered at or before then. False while no round covers it yet.
    /// </summary>
    public bool InBy(long raisedNs, long atNs)
    {
        var count = _rounds.Count;
        var oldest = RoundRing<Round>.Oldest(count);
        var low = oldest;
        var high = count;
        while (low < high)
        {
            var middle = low + ((high - low) / 2);
            if (_rounds[middle].RaisedThroughNs >= raisedNs)
            {
                high = middle;
            }
            else
            {
                low = middle + 1;
            }
        }

        if (low == count)
        {
            return false;
        }

        var round = _rounds[low];
        if ((low == oldest && oldest > 0) || _rounds.Overrun(oldest))
        {
            // The covering round may be older than the ring holds, or the writer went round the ring while this read
            // it: either way the hold went in long ago.
            return true;
        }

        return round.InstalledAtNs <= atNs;
    }

    private readonly record struct Round(long RaisedThroughNs, long InstalledAtNs);
}
