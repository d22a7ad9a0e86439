using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Shaper.Engine;
using Shaper.Metrics;
using Shaper.Packets;

namespace Shaper.Capture;

/// <summary>
/// One capture thread and its engine: reads its share of the packets (one socket of a <c>PACKET_FANOUT</c> group,
/// or the only socket) a block at a time with <c>pcap_dispatch</c>, and parses, stamps and decides each packet of the
/// block with its own <see cref="RuleEngine"/> (a few packets behind the one it parses, so that the key table slots
/// load meanwhile), so a packet costs no hand-off and no wake-up of its own. While it
/// waits for a block the thread sleeps in the kernel (no spinning); with no socket it sleeps until given one. It runs
/// real-time while light and steps down while busy (<see cref="Threading.RealtimeThread"/>, checked between reads). Work
/// for the engine (a report, a swap) is queued here and runs between blocks, so the engine is only ever touched by
/// this thread and the packet path takes no lock. Blocks the engine decides leave through its KeyBlocked event,
/// whose handler only queues them.
/// </summary>
public sealed unsafe class CaptureLane : IDisposable
{
    /// <summary>How many packets a lane parses ahead of the one it decides (a power of 2).</summary>
    private const int Ahead = 8;

    /// <summary>
    /// The most packets one read hands over. Unbounded, a read of the TPACKET_V3 ring goes on from block to block for
    /// as long as the ring holds one, so under a flood it never returned and the thread never reached its checks
    /// between reads (measured: a flood kept the thread 91% busy for 6 s without a step down). 1,024 packets cost the
    /// thread 0.4 to 11 ms (one observe rule to 64), well inside the real-time budget's 100 ms window.
    /// </summary>
    private const int DispatchMost = 1024;

    private readonly ConcurrentQueue<Action> _work = new();
    private readonly SemaphoreSlim _idle = new(0);
    private readonly Thread _thread;
    private readonly TimeProvider _time;
    private readonly object _statsLock = new();
    private readonly LatencyWindow? _bufferWait;
    private GCHandle _self;
    private volatile RuleEngine _engine;
    private volatile CaptureSocket? _socket;
    private volatile bool _stop;
    private CaptureClock _clock;
    private bool _batchStarted;
    private readonly PacketMeta[] _ahead = new PacketMeta[Ahead]; // parsed packets whose key slots are being fetched, oldest at _aheadStart
    private int _aheadStart;
    private int _aheadCount;
    private long _processed;
    private long _probesSent;
    private long _probesDone;
    private CaptureStats _closedStats = new(0, 0, 0, 0);
    private Exception? _fault;
    private volatile Threading.RealtimeThread? _scheduling;

    /// <summary>
    /// Starts lane <paramref name="index"/>'s thread with <paramref name="engine"/>; it reads nothing until <see cref="Attach"/>.
    /// Each batch adds how long its first packet waited in the kernel's buffer to <paramref name="bufferWait"/>.
    /// </summary>
    public CaptureLane(int index, RuleEngine engine, TimeProvider time, LatencyWindow? bufferWait = null)
    {
        _bufferWait = bufferWait;
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(time);
        Index = index;
        _engine = engine;
        _time = time;
        _self = GCHandle.Alloc(this);
        _thread = new Thread(Run) { IsBackground = true, Name = $"shaper-capture-{index}" };
        _thread.Start();
    }

    /// <summary>Raised on the lane's thread when its socket fails (the interface went away, a libpcap error), with libpcap's reason; the socket is closed.</summary>
    public event Action<CaptureLane, string>? Lost;

    /// <summary>The lane's number, from 0.</summary>
    public int Index { get; }

    /// <summary>Packets this lane's engines have decided.</summary>
    public long Processed => Volatile.Read(ref _processed);

    /// <summary>What the parser made of this lane's frames.</summary>
    public ParseCounters Frames { get; } = new();

    /// <summary>Whether the lane reads a socket now.</summary>
    public bool Attached => _socket is not null;

    /// <summary>Whether the lane's thread runs real-time (SCHED_FIFO) now: where the daemon may, while it is light.</summary>
    public bool Realtime => _scheduling?.Realtime ?? false;

    /// <summary>Times the lane's thread stepped down from real-time because it was busy.</summary>
    public long RealtimeStepDowns => _scheduling?.StepDowns ?? 0;

    /// <summary>The exception that ended the lane's thread, if one did.</summary>
    public Exception? Fault => Volatile.Read(ref _fault);

    /// <summary>The kernel's counts for this lane's sockets, closed ones included.</summary>
    public CaptureStats Stats
    {
        get
        {
            lock (_statsLock)
            {
                var open = _socket?.Stats() ?? new CaptureStats(0, 0, 0, 0);
                return Add(_closedStats, open);
            }
        }
    }

    /// <summary>The engine deciding this lane's packets now.</summary>
    public RuleEngine Engine => _engine;

    /// <summary>Swaps in a new engine (a reload); packets read after the swap go to it.</summary>
    public void Swap(RuleEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        _engine = engine;
    }

    /// <summary>Runs <paramref name="query"/> on the lane's thread against its current engine.</summary>
    public Task<T> QueryAsync<T>(Func<RuleEngine, T> query)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_thread.IsAlive)
        {
            done.SetException(new InvalidOperationException($"capture thread {Index} has stopped", Fault));
            return done.Task;
        }

        Post(() =>
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
        return done.Task;
    }

    /// <summary>
    /// A liveness probe for the watchdog: null when the thread is running and answered the previous probe (it
    /// wakes for it within microseconds, traffic or not); else why not. Sends the next probe.
    /// </summary>
    public string? Probe()
    {
        if (!_thread.IsAlive)
        {
            return $"capture thread {Index} has stopped: {Fault?.Message ?? "no reason"}";
        }

        var sent = Interlocked.Read(ref _probesSent);
        if (Interlocked.Read(ref _probesDone) < sent)
        {
            return $"capture thread {Index} has not answered for a watchdog period";
        }

        Interlocked.Increment(ref _probesSent);
        Post(() => Interlocked.Increment(ref _probesDone));
        return null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _stop = true;
        Wake();
        _thread.Join();
        DropSocket();
        _idle.Dispose();
        _self.Free();
    }

    /// <summary>Gives the lane a socket to read (from the capture that opened it); a socket it had is closed first.</summary>
    internal void Attach(CaptureSocket socket) => Post(() =>
    {
        DropSocket();
        _socket = socket;
    });

    /// <summary>Closes the lane's socket, if any, on its thread; the task ends once it is closed.</summary>
    internal Task DetachAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_thread.IsAlive)
        {
            DropSocket();
            done.SetResult();
            return done.Task;
        }

        Post(() =>
        {
            DropSocket();
            done.SetResult();
        });
        return done.Task;
    }

    /// <summary>The per-packet path: parse in place, stamp, decide. Runs inside pcap_dispatch on the lane's thread.</summary>
    [UnmanagedCallersOnly]
    private static void OnPacket(byte* user, NativePcap.PacketHeader* header, byte* data)
    {
        var lane = Unsafe.As<CaptureLane>(GCHandle.FromIntPtr((nint)user).Target)!;
        try
        {
            lane.Decide(header, data);
        }
        catch (Exception e)
        {
            // An exception must not cross into libpcap: end the dispatch, and the thread, with it.
            lane._fault = e;
            if (lane._socket is { } socket)
            {
                NativePcap.BreakLoop(socket.Handle);
            }
        }
    }

    private static CaptureStats Add(CaptureStats a, CaptureStats b) =>
        new(a.Received + b.Received, a.PcapDropped + b.PcapDropped, a.InterfaceDropped + b.InterfaceDropped, 0);

    private void Decide(NativePcap.PacketHeader* header, byte* data)
    {
        var socket = _socket!;
        Decide(
            new ReadOnlySpan<byte>(data, (int)header->CaptureLength),
            socket.Link,
            socket.InterfaceIndex,
            (header->Seconds * 1_000_000_000L) + (header->Microseconds * 1000L));
    }

    /// <summary>
    /// One frame of the current batch: parsed in place, stamped on the monotonic clock from the kernel's wall-clock
    /// arrival time <paramref name="arrivalWallNs"/>, tagged with the interface, and decided once <see cref="Ahead"/>
    /// more have been parsed or at <see cref="EndBatch"/>, whichever comes first. On the lane's thread only.
    /// </summary>
    internal void Decide(ReadOnlySpan<byte> frame, LinkKind link, int interfaceIndex, long arrivalWallNs)
    {
        var result = PacketParser.Parse(frame, link, out var packet);
        Frames.Record(result);
        if (result != ParseResult.Ok)
        {
            return;
        }

        if (!_batchStarted)
        {
            // Both clocks once per block, not per packet.
            _batchStarted = true;
            var (monotonicNs, wallNs, gapNs) = MonotonicClock.PairWithGap(_time);
            _clock.Begin(monotonicNs, wallNs, gapNs);
            _bufferWait?.Add(Math.Max(0, wallNs - arrivalWallNs) / 1e6);
        }

        packet.TimestampNs = _clock.Stamp(arrivalWallNs);
        if (interfaceIndex != 0)
        {
            // A socket on one interface; on "any" the frame's own header has named it.
            packet.InterfaceIndex = interfaceIndex;
        }

        // Decided a few packets behind: each packet's key table slot is asked for as it is parsed and used when the
        // packet is decided, so the cache misses of a large table (a cold line per packet when every key is seen
        // rarely) overlap instead of stalling one packet at a time. The batch's last packets are decided when it ends.
        var engine = _engine;
        if (_aheadCount == Ahead)
        {
            DecideOldest(engine);
        }

        engine.Prefetch(packet);
        _ahead[(_aheadStart + _aheadCount) & (Ahead - 1)] = packet;
        _aheadCount++;
    }

    /// <summary>Ends a batch: its packets still waiting are decided, and the next packet reads the clocks again.</summary>
    internal void EndBatch()
    {
        Drain();
        _batchStarted = false;
    }

    /// <summary>
    /// <see cref="EndBatch"/> on the lane's thread: false, with the fault kept, when deciding threw (the thread then
    /// ends, as it does when a packet inside a read throws).
    /// </summary>
    private bool EndBatchSafely()
    {
        try
        {
            EndBatch();
            return true;
        }
        catch (Exception e)
        {
            _fault = e;
            return false;
        }
    }

    /// <summary>Decides the packets parsed and not yet decided, in their order.</summary>
    private void Drain()
    {
        var engine = _engine;
        while (_aheadCount > 0)
        {
            DecideOldest(engine);
        }
    }

    /// <summary>Decides the oldest packet waiting with <paramref name="engine"/> and takes it out of the look-ahead.</summary>
    private void DecideOldest(RuleEngine engine)
    {
        engine.Process(_ahead[_aheadStart]);
        _processed++;
        _aheadStart = (_aheadStart + 1) & (Ahead - 1);
        _aheadCount--;
    }

    private void Post(Action work)
    {
        _work.Enqueue(work);
        Wake();
    }

    private void Wake()
    {
        // Work is queued before this reads the socket, and the thread drops a socket before it drains the queue,
        // so whichever of the two wake-ups this picks, the thread sees the work.
        if (_socket is { } socket)
        {
            try
            {
                NativePcap.BreakLoop(socket.Handle);
                return;
            }
            catch (ObjectDisposedException)
            {
                // Closed under us: fall through to the idle wake-up.
            }
        }

        _idle.Release();
    }

    private void DropSocket()
    {
        lock (_statsLock)
        {
            if (_socket is { } socket)
            {
                _socket = null;
                socket.Dispose();
                _closedStats = Add(_closedStats, socket.Stats());
            }
        }
    }

    private void Run()
    {
        // Real-time while light, so a packet's block is decided the moment its buffer is handed over; stepped down while busy.
        var scheduling = _scheduling = new Threading.RealtimeThread(Threading.ThreadNice.CapturePath, Threading.ThreadNice.EnforcementPath, _time);
        var user = (byte*)GCHandle.ToIntPtr(_self);
        while (!_stop)
        {
            scheduling.Check();
            // Frames handed to Decide outside a read (a test's) are decided before the work below sees the engine.
            if (!EndBatchSafely())
            {
                DropSocket();
                return;
            }

            while (_work.TryDequeue(out var work))
            {
                work();
            }

            var socket = _socket;
            if (socket is null)
            {
                _idle.Wait();
                continue;
            }

            // The batch was ended at the top of this loop (or after the last read): the first packet reads the clocks.
            var read = NativePcap.Dispatch(socket.Handle, DispatchMost, &OnPacket, user);
            if (Fault is not null || !EndBatchSafely())
            {
                // The thread ends; Probe reports it, so the watchdog stops and systemd restarts the daemon.
                DropSocket();
                return;
            }

            if (read >= 0 || read == NativePcap.ErrorBreak || _stop)
            {
                continue;
            }

            var reason = socket.LastError();
            DropSocket();
            Lost?.Invoke(this, reason.Length > 0 ? reason : "libpcap error");
        }
    }
}
