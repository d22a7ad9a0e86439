using Shaper.Metrics;

namespace Shaper.Daemon;

/// <summary>
/// Where the time from detection to kernel block goes, over the last 4096 blocks an observe rule decided: each hop's
/// latency, and the size of the batch each block was committed in.
/// </summary>
internal sealed class BlockHops
{
    /// <summary>The crossing packet's arrival (kernel timestamp) to its block queued by the capture thread: the capture buffer's wait and the decision.</summary>
    public LatencyWindow Capture { get; } = new(4096);

    /// <summary>Queued to taken by the install thread: its wake-up, and the batch before it still in the kernel.</summary>
    public LatencyWindow Queue { get; } = new(4096);

    /// <summary>Taken to committed: the netlink command of its whole batch, the kernel's commit included.</summary>
    public LatencyWindow Commit { get; } = new(4096);

    /// <summary>The number of blocks in the batch each block went in.</summary>
    public LatencyWindow BatchSize { get; } = new(4096);

    /// <summary>Records one block's hops (Unix ns each).</summary>
    public void Add(long detectedNs, long queuedNs, long takenNs, long committedNs, int batch)
    {
        Capture.Add((queuedNs - detectedNs) / 1e6);
        Queue.Add((takenNs - queuedNs) / 1e6);
        Commit.Add((committedNs - takenNs) / 1e6);
        BatchSize.Add(batch);
    }
}
