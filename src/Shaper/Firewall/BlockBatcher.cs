using System.Collections.Concurrent;
using System.Net;

namespace Shaper.Firewall;

/// <summary>A block to install: the network, how long, the rule that asked (null for an operator) and when its cause was seen (Unix ns, 0 when unknown).</summary>
public readonly record struct BlockRequest(IPNetwork Network, TimeSpan Ttl, string? Rule = null, long DetectedNs = 0);

/// <summary>
/// The one hop between a block decision and the kernel. Whoever decides (the engine thread, the control
/// socket) only queues; the install thread installs by group commit: whatever is queued (up to
/// <see cref="MaxBatch"/>) in one command at once, and what arrives while that command runs goes in the next.
/// A lone block waits for nothing; a thousand offenders crossing a limit together cost a few commands, not a
/// thousand, and the first of them is not held back for the last. The bookkeeping of an installed batch
/// (recording, logging) runs on a second thread, so it never delays a block that is still to be installed.
/// </summary>
public sealed class BlockBatcher : IDisposable
{
    /// <summary>The most blocks in one command.</summary>
    public const int MaxBatch = 4096;

    /// <summary>The bookkeeping thread's nice value: a tenth of a normal thread's share of a busy CPU.</summary>
    public const int BookkeepingNice = 10;

    private readonly BlockingCollection<BlockRequest> _queue = new(new ConcurrentQueue<BlockRequest>());
    private readonly BlockingCollection<Installed> _done = new(new ConcurrentQueue<Installed>());
    private readonly Func<IReadOnlyList<(IPNetwork Network, TimeSpan Ttl)>, string?> _install;
    private readonly Action<IReadOnlyList<BlockRequest>, string?, DateTimeOffset> _committed;
    private readonly TimeProvider _time;
    private readonly Thread _installer;
    private readonly Thread _recorder;
    private long _batches;

    /// <summary>
    /// Starts the batcher: <paramref name="install"/> runs one command and returns null or why it failed;
    /// <paramref name="committed"/> then hears, in order and on the bookkeeping thread, that command's blocks,
    /// its error (null when they are in) and when it returned (by <paramref name="time"/>, the system clock by default).
    /// </summary>
    public BlockBatcher(
        Func<IReadOnlyList<(IPNetwork Network, TimeSpan Ttl)>, string?> install,
        Action<IReadOnlyList<BlockRequest>, string?, DateTimeOffset> committed,
        TimeProvider? time = null)
    {
        _install = install;
        _committed = committed;
        _time = time ?? TimeProvider.System;

        // Compile the queues' add and take now rather than on the first block, when offenders are waiting.
        _queue.Add(default);
        _queue.Take();
        _done.Add(default);
        _done.Take();
        _installer = new Thread(Install) { IsBackground = true, Name = "shaper-blocks" };
        _recorder = new Thread(Record) { IsBackground = true, Name = "shaper-blocklog" };
        _installer.Start();
        _recorder.Start();
    }

    /// <summary>Commands run so far.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Queues one block; never waits.</summary>
    public void Add(in BlockRequest request) => _queue.Add(request);

    /// <summary>Installs what is queued, then waits for the bookkeeping of every batch to finish.</summary>
    public void Dispose()
    {
        _queue.CompleteAdding();
        _installer.Join();
        _done.CompleteAdding();
        _recorder.Join();
        _queue.Dispose();
        _done.Dispose();
    }

    private void Install()
    {
        _ = Threading.ThreadNice.Set(Threading.ThreadNice.EnforcementPath);
        var requests = new List<BlockRequest>(MaxBatch);
        var command = new List<(IPNetwork, TimeSpan)>(MaxBatch);
        foreach (var first in _queue.GetConsumingEnumerable())
        {
            var item = first;
            do
            {
                requests.Add(item);
                command.Add((item.Network, item.Ttl));
            }
            while (requests.Count < MaxBatch && _queue.TryTake(out item));

            var error = _install(command);
            _done.Add(new Installed([.. requests], error, _time.GetUtcNow()));
            Interlocked.Increment(ref _batches);
            requests.Clear();
            command.Clear();
        }
    }

    private void Record()
    {
        // Bookkeeping gives way to capture, decisions and installs when the CPUs are short (during an attack).
        _ = Threading.ThreadNice.Set(BookkeepingNice);
        foreach (var batch in _done.GetConsumingEnumerable())
        {
            _committed(batch.Requests, batch.Error, batch.At);
        }
    }

    private readonly record struct Installed(BlockRequest[] Requests, string? Error, DateTimeOffset At);
}
