using System.Collections.Concurrent;
using Shaper.Packets;

namespace Shaper.Daemon;

/// <summary>
/// Takes the engine's block decisions off the engine thread. Recording a block touches the block store's
/// lock (shared with the expiry timer), the logger and the batcher; any of them can stall for milliseconds,
/// and a stalled engine thread delays every packet behind it, so the next offenders are detected late too.
/// The engine only enqueues; this thread does the rest in arrival order.
/// </summary>
internal sealed class BlockIntake : IDisposable
{
    private readonly BlockingCollection<Request> _queue = new(new ConcurrentQueue<Request>());
    private readonly Action<Request> _handle;
    private readonly Thread _thread;
    private int _disposed;

    public BlockIntake(Action<Request> handle)
    {
        _handle = handle;
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
        foreach (var request in _queue.GetConsumingEnumerable())
        {
            _handle(request);
        }
    }

    /// <summary>A block decision: the rule, the key's address, how long, and the capture time of the packet that crossed.</summary>
    internal readonly record struct Request(string Rule, IpFamily Family, UInt128 Address, long DurationNs, long DetectedNs);
}
