using Shaper.Engine;

namespace Shaper.Queue;

/// <summary>One queue rule's counters, read on its worker thread.</summary>
/// <param name="Rule">The rule's name.</param>
/// <param name="Number">Its NFQUEUE number.</param>
/// <param name="Passed">Accepted on arrival.</param>
/// <param name="Delayed">Held, then accepted at their slot.</param>
/// <param name="Dropped">Dropped by a full FIFO.</param>
/// <param name="DroppedAtCap">Dropped because <c>max_held</c> packets were held.</param>
/// <param name="Unparsed">Accepted at once because their headers did not parse.</param>
/// <param name="Held">Held now.</param>
/// <param name="DelayP50Ns">Median hold time of the last released packets.</param>
/// <param name="DelayP99Ns">99th percentile of the same.</param>
/// <param name="DelayMaxNs">Longest hold time since start.</param>
/// <param name="NoBuffers">Receives that failed with ENOBUFS (the socket buffer overflowed).</param>
/// <param name="VerdictErrors">Verdicts the kernel refused.</param>
/// <param name="KeysTracked">Keys tracked.</param>
/// <param name="Evictions">Keys evicted to make room.</param>
/// <param name="Keys">Every key with its counters and queue room.</param>
public sealed record QueueReport(
    string Rule,
    int Number,
    long Passed,
    long Delayed,
    long Dropped,
    long DroppedAtCap,
    long Unparsed,
    int Held,
    long DelayP50Ns,
    long DelayP99Ns,
    long DelayMaxNs,
    long NoBuffers,
    long VerdictErrors,
    int KeysTracked,
    long Evictions,
    IReadOnlyList<KeyReport> Keys);
