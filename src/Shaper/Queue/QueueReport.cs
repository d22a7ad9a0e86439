using Shaper.Engine;

namespace Shaper.Queue;

/// <summary>One queue's counters, read on its worker thread; or a rule's over all its queues (<see cref="Merge"/>).</summary>
/// <param name="Rule">The rule's name.</param>
/// <param name="Number">Its NFQUEUE number (a rule's first, merged).</param>
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
/// <param name="RecentDelaysNs">The last hold times, sorted (what the percentiles come from).</param>
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
    IReadOnlyList<KeyReport> Keys,
    long[] RecentDelaysNs)
{
    /// <summary>The queues' reports of each rule (in the order the rules first appear), added up into one per rule: the keys side by side (each key is on one queue), the delay percentiles over every queue's recent hold times.</summary>
    public static List<(QueueReport Rule, List<QueueReport> Queues)> Merge(IEnumerable<QueueReport> reports)
    {
        ArgumentNullException.ThrowIfNull(reports);
        var merged = new List<(QueueReport, List<QueueReport>)>();
        foreach (var group in reports.GroupBy(r => r.Rule))
        {
            var queues = group.OrderBy(r => r.Number).ToList();
            if (queues.Count == 1)
            {
                merged.Add((queues[0], queues));
                continue;
            }

            var delays = queues.SelectMany(q => q.RecentDelaysNs).Order().ToArray();
            merged.Add((new QueueReport(
                group.Key,
                queues[0].Number,
                queues.Sum(q => q.Passed),
                queues.Sum(q => q.Delayed),
                queues.Sum(q => q.Dropped),
                queues.Sum(q => q.DroppedAtCap),
                queues.Sum(q => q.Unparsed),
                queues.Sum(q => q.Held),
                DelaySamples.Percentile(delays, 0.5),
                DelaySamples.Percentile(delays, 0.99),
                queues.Max(q => q.DelayMaxNs),
                queues.Sum(q => q.NoBuffers),
                queues.Sum(q => q.VerdictErrors),
                queues.Sum(q => q.KeysTracked),
                queues.Sum(q => q.Evictions),
                [.. queues.SelectMany(q => q.Keys)],
                delays), queues));
        }

        return merged;
    }
}
