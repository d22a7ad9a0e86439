using System.Collections.Concurrent;
using Shaper.Packets;

namespace Shaper.Daemon;

/// <summary>
/// Takes the engine's block decisions off the engine thread. Recording a block touches the block store's
/// lock (shared with the expiry timer), the logger and the batcher; any of them can stall for milliseconds,
/// and a stalled engine thread delays every packet behind it, so the next offenders are detected late too.
/// The engine only enqueues. This thread blocks everything queued first and only then logs it, so a log
/// line never holds up the next offender's block either.
/// </summary>
internal sealed class BlockIntake : IDisposable
{
    private readonly BlockingCollection<Request> _queue = new(new ConcurrentQueue<Request>());
    private readonly Action<Request> _block;
    private readonly Action<Request> _after;
    private readonly Thread _thread;
    private int _disposed;

    /// <summary>Starts the thread: <paramref name="block"/> runs for each decision, <paramref name="after"/> once a run of them is blocked.</summary>
    public BlockIntake(Action<Request> block, Action<Request> after)
    {
        _block = block;
        _after = after;

        // Compile the queue's add and take now rather than on the first block, when offenders are waiting.
        _queue.Add(default);
        _queue.Take();
        _thread = new Thread(Run) { IsBackground = true, Name = "shaper-intake" };
        _thread.Start();
    }

    /// <summary>Queues one block decision; called on the engine thread, never waits.</summary>
    public void Post(in Request request) => _queue.Add(request);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _queue.CompleteAdding();
        _thread.Join();
        _queue.Dispose();
    }

    private void Run()
    {
        var run = new List<Request>();
        foreach (var first in _queue.GetConsumingEnumerable())
        {
            var request = first;
            do
            {
                _block(request);
                run.Add(request);
            }
            while (_queue.TryTake(out request));

            foreach (var done in run)
            {
                _after(done);
            }

            run.Clear();
        }
    }

    /// <summary>A block decision: the rule, the key's address, how long, and the capture time of the packet that crossed.</summary>
    internal readonly record struct Request(string Rule, IpFamily Family, UInt128 Address, long DurationNs, long DetectedNs);
}
