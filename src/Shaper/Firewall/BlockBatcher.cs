using System.Collections.Concurrent;
using System.Net;

namespace Shaper.Firewall;

/// <summary>
/// Coalesces block requests by group commit: the batcher thread installs whatever is queued (up to
/// <see cref="MaxBatch"/>) in one nft command at once, and what arrives while that command runs goes in the
/// next. A lone block waits for nothing; a thousand offenders crossing a limit together cost a few commands,
/// not a thousand, and the first of them is not held back for the last.
/// </summary>
public sealed class BlockBatcher : IDisposable
{
    /// <summary>The most blocks in one command.</summary>
    public const int MaxBatch = 4096;

    private readonly BlockingCollection<(IPNetwork Network, TimeSpan Ttl, long DetectedNs)> _queue = new(new ConcurrentQueue<(IPNetwork, TimeSpan, long)>());
    private readonly Func<IReadOnlyList<(IPNetwork Network, TimeSpan Ttl)>, string?> _install;
    private readonly Action<string> _failed;
    private readonly Action<long>? _installed;
    private readonly Thread _thread;
    private long _batches;

    /// <summary>
    /// Starts the batcher; <paramref name="install"/> runs one batch and returns null or why it failed;
    /// <paramref name="installed"/> hears, for each block installed, the detection time it was queued with.
    /// </summary>
    public BlockBatcher(Func<IReadOnlyList<(IPNetwork Network, TimeSpan Ttl)>, string?> install, Action<string> failed, Action<long>? installed = null)
    {
        _install = install;
        _failed = failed;
        _installed = installed;

        // Compile the queue's add and take now rather than on the first block, when offenders are waiting.
        _queue.Add(default);
        _queue.Take();
        _thread = new Thread(Run) { IsBackground = true, Name = "shaper-blocks" };
        _thread.Start();
    }

    /// <summary>Commands run so far.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Queues one block; <paramref name="detectedNs"/> (Unix ns, 0 when unknown) is when its cause was seen.</summary>
    public void Add(IPNetwork network, TimeSpan ttl, long detectedNs = 0) => _queue.Add((network, ttl, detectedNs));

    /// <inheritdoc />
    public void Dispose()
    {
        _queue.CompleteAdding();
        _thread.Join();
        _queue.Dispose();
    }

    private void Run()
    {
        var batch = new List<(IPNetwork, TimeSpan)>(MaxBatch);
        var detected = new List<long>(MaxBatch);
        foreach (var first in _queue.GetConsumingEnumerable())
        {
            var item = first;
            do
            {
                batch.Add((item.Network, item.Ttl));
                detected.Add(item.DetectedNs);
            }
            while (batch.Count < MaxBatch && _queue.TryTake(out item));

            if (_install(batch) is { } error)
            {
                _failed(error);
            }
            else if (_installed is not null)
            {
                foreach (var at in detected)
                {
                    _installed(at);
                }
            }

            Interlocked.Increment(ref _batches);
            batch.Clear();
            detected.Clear();
        }
    }
}
