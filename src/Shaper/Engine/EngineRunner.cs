using System.Collections.Concurrent;
using Shaper.Capture;
using Shaper.Packets;

namespace Shaper.Engine;

/// <summary>
/// The engine thread of the live daemon: drains the capture <see cref="PacketRing"/> into the current
/// <see cref="RuleEngine"/>. Everything that touches the engine runs on this one thread, so the packet
/// path takes no lock: a reload hands over a new engine, and a counters request is a closure the thread
/// runs between packets and answers through a task.
/// </summary>
public sealed class EngineRunner : IDisposable
{
    private readonly PacketRing _ring;
    private readonly ConcurrentQueue<Action> _work = new();
    private readonly Thread _thread;
    private readonly CancellationTokenSource _stop = new();
    private readonly TimeProvider _time;
    private readonly Func<bool> _hasWork;
    private volatile RuleEngine _engine;

    /// <summary>Starts the engine thread over <paramref name="ring"/> with <paramref name="engine"/>.</summary>
    public EngineRunner(PacketRing ring, RuleEngine engine, TimeProvider time)
    {
        _ring = ring;
        _engine = engine;
        _time = time;
        _hasWork = () => !_work.IsEmpty;
        _thread = new Thread(Run) { IsBackground = true, Name = "shaper-engine" };
        _thread.Start();
    }

    /// <summary>Packets the engine has processed, over every engine it has run.</summary>
    public long Processed { get; private set; }

    /// <summary>Swaps in a new engine (a reload); packets after the swap go to it.</summary>
    public void Swap(RuleEngine engine) => _engine = engine;

    /// <summary>Runs <paramref name="query"/> on the engine thread against the current engine.</summary>
    public Task<T> QueryAsync<T>(Func<RuleEngine, T> query)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Enqueue(() =>
        {
            try
            {
                done.SetResult(query(_engine));
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        });
        _ring.Wake();
        return done.Task;
    }

    /// <summary>The current time in the packets' clock (Unix nanoseconds), for reports between packets.</summary>
    public long NowNs => _time.GetUtcNow().ToUnixTimeMilliseconds() * 1_000_000;

    /// <inheritdoc />
    public void Dispose()
    {
        _stop.Cancel();
        _ring.Wake();
        _thread.Join();
        _stop.Dispose();
    }

    private void Run()
    {
        var idle = 0;
        _ = Threading.ThreadNice.Set(Threading.ThreadNice.EnforcementPath);
        while (!_stop.IsCancellationRequested)
        {
            var engine = _engine;
            var drained = 0;
            while (drained < 4096 && _ring.TryRead(out var packet))
            {
                engine.Process(packet);
                drained++;
            }

            Processed += drained;
            while (_work.TryDequeue(out var work))
            {
                work();
            }

            if (drained > 0)
            {
                idle = 0;
                continue;
            }

            // Nothing to do: spin briefly (a packet is often just behind), then sleep until the capture
            // thread writes a packet or a query arrives; the timeout only bounds a missed wake-up.
            if (++idle < 64)
            {
                Thread.SpinWait(20);
            }
            else
            {
                _ = _ring.WaitForPackets(TimeSpan.FromMilliseconds(100), _hasWork);
            }
        }
    }
}
