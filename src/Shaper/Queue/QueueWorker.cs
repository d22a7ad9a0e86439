using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Shaper.Capture;
using Shaper.Firewall;
using Shaper.Netlink;
using Shaper.Plan;

namespace Shaper.Queue;

/// <summary>
/// The thread that serves one NFQUEUE queue: it reads each queued packet, decides it (<see cref="PacketQueue"/>) and
/// gives it its verdict, at once or at its departure slot, on the socket that bound the queue. With nothing held it
/// sleeps in the read itself until a packet comes; with packets held, in ppoll until a packet comes or the next
/// departure is due, so a release is late by the wake-up latency only. Each read takes every packet waiting (up to
/// <see cref="ReadSlots"/>, one <c>recvmmsg</c>) and one send carries the verdicts they and the due releases get, so a
/// busy queue costs two system calls per run of packets where a plain consumer spends two per packet. A stop is
/// graceful: the kernel is told to queue no more (length 0, fail-open: later packets are accepted by the kernel), then
/// every packet read or held gets its verdict, and only then the socket closes. Reports run on the thread between
/// packets, so the queue's state needs no lock. The per-packet methods are compiled optimised from the start: tiered
/// compilation's later swaps (on-stack replacement, call-counting stubs removed under a runtime suspension) stalled this
/// thread for milliseconds at a time on a loaded host, which a held packet's release cannot afford.
/// </summary>
public sealed class QueueWorker : IDisposable
{
    /// <summary>How long the thread sleeps at most with nothing held, so that a report or a stop waits no longer.</summary>
    private const long IdleWaitNs = 10_000_000;

    /// <summary>Copied bytes per packet: an IPv4 header with options (60) or IPv6 with a few extension headers, and the ports.</summary>
    private const int CopyRange = 128;

    /// <summary>
    /// Packets one read takes at most: enough that a busy queue costs a read and a send per 64 packets rather than per
    /// packet, few enough that the verdicts of the first wait only as long as the rest take to decide.
    /// </summary>
    private const int ReadSlots = 64;

    /// <summary>
    /// The bytes of one packet's message: the copy range and every attribute the kernel may add to it without a
    /// configuration flag asking (packet header, mark, timestamp, four interface indexes, hardware address and header,
    /// priority, VLAN, capture length; some 250 bytes), with room to spare: a message never exceeds it.
    /// </summary>
    private const int SlotSize = 1024;

    /// <summary>How often the thread asks the kernel whether the queue is still bound to its socket (one send; no answer while it is).</summary>
    private const long BoundCheckNs = 1_000_000_000;

    /// <summary>The socket's receive buffer: some thousands of queued packets' messages.</summary>
    internal const int DefaultReceiveBuffer = 4 << 20;

    private readonly NfQueueSocket _socket;
    private readonly PacketQueue _queue;
    private readonly TimeProvider _time;
    private volatile Threading.RealtimeThread? _scheduling;
    private readonly ConcurrentQueue<Action> _work = new();
    private readonly NetlinkDatagrams _datagrams = new(ReadSlots, SlotSize);
    private readonly Thread _thread;
    private readonly bool _rejects;
    private readonly Action<QueueWorker>? _failed;
    private volatile bool _stopping;
    private volatile string? _failure;
    private int _disposed;
    private long _probesSent;
    private long _probesDone;

    private QueueWorker(QueueRule rule, int number, NfQueueSocket socket, PacketQueue queue, TimeProvider time, Action<QueueWorker>? failed)
    {
        Number = number;
        _failed = failed;
        Rule = rule;
        _rejects = rule.Rule.Action == Rules.RuleAction.Reject && rule.Rule.Mode == Rules.RuleMode.Hard;
        _socket = socket;
        _queue = queue;
        _time = time;
        _thread = new Thread(Run) { IsBackground = true, Name = $"queue {number}" };
    }

    /// <summary>The rule and its queue numbers.</summary>
    public QueueRule Rule { get; }

    /// <summary>The NFQUEUE number this worker serves: one of the rule's.</summary>
    public int Number { get; }

    /// <summary>Why the thread stopped serving the queue (it failed), null while it runs.</summary>
    public string? Failure => _failure;

    /// <summary><c>running</c>; <c>failed</c> once the thread stopped serving the queue for a fault (see <see cref="Failure"/>); <c>stopped</c> after <see cref="Dispose"/>.</summary>
    public string State => _failure is not null ? "failed" : _thread.IsAlive ? "running" : "stopped";

    /// <summary>How the thread is scheduled now: <c>SCHED_FIFO N</c> while it is light where allowed, else <c>nice N</c> or <c>default</c>; empty until it runs.</summary>
    public string Scheduling => _scheduling?.Scheduling ?? "";

    /// <summary>Packets held by this queue now (read racily, for status).</summary>
    public int Held => _queue.Held;

    /// <summary>
    /// Binds <paramref name="rule"/>'s queue in this thread's network namespace and starts serving it; null with
    /// <paramref name="error"/> when the kernel refuses the queue.
    /// </summary>
    /// <param name="rule">The rule and its queue number.</param>
    /// <param name="maxKeys">Keys the rule's table holds at most.</param>
    /// <param name="budget">The packets every queue together may hold.</param>
    /// <param name="time">The clock of the release schedule.</param>
    /// <param name="error">Why the queue could not be bound.</param>
    /// <param name="failed">Called on the worker's thread when it stops serving the queue for a fault (see <see cref="Failure"/>).</param>
    /// <param name="receiveBuffer">The socket's receive buffer in bytes (tests make it tiny to overrun it).</param>
    /// <param name="shard">Which of the rule's queues (0 to <see cref="QueueRule.Queues"/> - 1).</param>
    public static QueueWorker? Start(QueueRule rule, int maxKeys, HeldBudget budget, TimeProvider time, out string? error, Action<QueueWorker>? failed = null, int receiveBuffer = DefaultReceiveBuffer, int shard = 0)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(budget);
        ArgumentNullException.ThrowIfNull(time);

        // The kernel holds what the daemon holds plus what it has not read yet; beyond that it accepts (fail-open).
        var maxLength = budget.Capacity + 4096;
        ArgumentOutOfRangeException.ThrowIfNegative(shard);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(shard, rule.Queues);
        var number = rule.Number + shard;
        var socket = NfQueueSocket.Open((ushort)number, CopyRange, maxLength, receiveBuffer, TimeSpan.FromTicks(IdleWaitNs / 100), out error);
        if (socket is null)
        {
            error = $"queue rule '{rule.Rule.Name}': {error}";
            return null;
        }

        var worker = new QueueWorker(rule, number, socket, new PacketQueue(rule.Rule, rule.Rule.Per.Kind == Rules.KeyKind.Rule ? 1 : maxKeys, budget), time, failed);
        worker._thread.Start();
        return worker;
    }

    /// <summary>The queue's counters and keys, read on its thread.</summary>
    public Task<QueueReport> ReportAsync()
    {
        var done = new TaskCompletionSource<QueueReport>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_thread.IsAlive)
        {
            done.SetResult(Report());
            return done.Task;
        }

        _work.Enqueue(() => done.TrySetResult(Report()));
        return done.Task;
    }

    /// <summary>
    /// Null while the thread serves the queue and answered the last probe; else why not: it stopped (<see cref="Failure"/>),
    /// or it has not come round to the previous probe (stuck). The watchdog asks at half its period.
    /// </summary>
    public string? Probe()
    {
        if (State != "running")
        {
            return $"queue rule '{Rule.Rule.Name}' (NFQUEUE {Number}) has stopped: {Failure ?? "no reason"}";
        }

        var sent = Interlocked.Read(ref _probesSent);
        if (Interlocked.Read(ref _probesDone) < sent)
        {
            return $"queue rule '{Rule.Rule.Name}' (NFQUEUE {Number}) has not answered for a watchdog period";
        }

        Interlocked.Increment(ref _probesSent);
        _work.Enqueue(() => Interlocked.Increment(ref _probesDone));
        return null;
    }

    /// <summary>Runs <paramref name="work"/> on the worker's thread between packets (tests stall the thread with it).</summary>
    internal void Post(Action work) => _work.Enqueue(work);

    /// <summary>Stops gracefully (see the type) and waits for the thread; the socket is closed after.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stopping = true;
        if (_thread.IsAlive)
        {
            _thread.Join();
        }

        _socket.Dispose();
    }

    private long Now() => MonotonicClock.NowNs(_time);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Run()
    {
        // Real-time where allowed, so a busy host does not push departures back; else ahead of other work by nice. A
        // flood that keeps the thread busy steps it down, so it never takes its CPU from the rest of the host.
        var scheduling = _scheduling = new Threading.RealtimeThread(Threading.ThreadNice.ReleasePath, Threading.ThreadNice.EnforcementPath, _time);
        try
        {
            var nextCheck = Now() + BoundCheckNs;
            var full = false;
            while (!_stopping)
            {
                while (_work.TryDequeue(out var work))
                {
                    work();
                }

                // One read takes every packet there is (up to the slots), and one send carries all their verdicts.
                int received;
                var next = _queue.NextDepartureNs;
                if (full)
                {
                    // The last read filled every slot: more is most likely waiting, so no look first.
                    received = _socket.Receive(_datagrams, wait: false);
                }
                else if (next == long.MaxValue)
                {
                    // Nothing held: the read itself waits (up to IdleWaitNs), as a plain consumer's recv does, with no
                    // poll before it and no failing read after a run.
                    received = _socket.Receive(_datagrams, wait: true);
                }
                else
                {
                    // A departure is due: the socket's timeout counts in ticks, ppoll in nanoseconds.
                    var wait = next - Now();
                    received = wait <= 0 || _socket.Wait(wait) ? _socket.Receive(_datagrams, wait: false) : 0;
                }

                full = received == _datagrams.Capacity;
                var now = Now();
                for (var i = 0; i < received; i++)
                {
                    Decide(_datagrams[i], now);
                }

                Release(now, all: false);
                _socket.Flush();
                scheduling.Check();

                // The queue can be taken from the socket (another socket of this process unbinding it): the kernel then
                // sends nothing more and the rule's bypass lets every packet through unshaped. Asked once a second.
                if (_socket.Lost is { } lost)
                {
                    throw new IOException(lost);
                }

                if (now >= nextCheck)
                {
                    nextCheck = now + BoundCheckNs;
                    _socket.CheckBound();
                }
            }

            Drain();
        }
        catch (Exception e)
        {
            // Any fault ends the service of the queue, never the process: what is held is let go, the socket closed (the
            // rule's bypass then passes the packets unshaped), and the watchdog stops so that systemd restarts the daemon.
            _failure = e.Message;
            GiveUp();
            _failed?.Invoke(this);
        }
        finally
        {
            while (_work.TryDequeue(out var work))
            {
                work();
            }
        }
    }

    /// <summary>After a fault: every packet the kernel still holds for the queue is accepted if the socket still works, then the socket is closed.</summary>
    private void GiveUp()
    {
        try
        {
            Drain();
        }
        catch (Exception)
        {
            // The socket is broken: the close below lets the kernel drop what it held; the held budget is given back.
            while (_queue.TryRelease(Now(), all: true, out _))
            {
            }
        }

        _socket.Dispose();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Decide(ReadOnlySpan<byte> datagram, long nowNs)
    {
        foreach (var message in new NetlinkMessageEnumerator(datagram))
        {
            if (!_socket.TryReadPacket(message, out var id, out var payload))
            {
                continue;
            }

            switch (_queue.Arrive(id, payload, nowNs))
            {
                case QueueVerdict.AcceptNow:
                    Verdict(id, NfQueue.Accept);
                    break;
                case QueueVerdict.Drop when _rejects:
                    // NFQUEUE cannot answer a packet: it goes through the filter table again marked, and the queue chain's
                    // first rules reject what carries the mark (a TCP reset, else ICMP port unreachable).
                    _socket.Verdict(id, NfQueue.Repeat, IptablesQueueScript.RejectMark);
                    break;
                case QueueVerdict.Drop:
                    Verdict(id, NfQueue.Drop);
                    break;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Release(long nowNs, bool all)
    {
        while (_queue.TryRelease(nowNs, all, out var id))
        {
            Verdict(id, NfQueue.Accept);
        }
    }

    /// <summary>
    /// The graceful stop: no more queueing, then a verdict for every packet read while the kernel acknowledged that,
    /// every one still waiting in the socket, and every held one (accepted now, ahead of its slot).
    /// </summary>
    private void Drain()
    {
        var error = _socket.StopQueueing();
        foreach (var id in _socket.Pending)
        {
            Verdict(id, NfQueue.Accept);
        }

        while (_socket.Receive(_datagrams, wait: false) is var received && received != 0)
        {
            for (var i = 0; i < received; i++)
            {
                foreach (var message in new NetlinkMessageEnumerator(_datagrams[i]))
                {
                    if (_socket.TryReadPacket(message, out var id, out _))
                    {
                        Verdict(id, NfQueue.Accept);
                    }
                }
            }
        }

        Release(Now(), all: true);
        _socket.Flush();
        if (error is not null)
        {
            _failure ??= $"could not stop the queue before releasing it: {error}";
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Verdict(uint id, uint verdict) => _socket.Verdict(id, verdict);

    private QueueReport Report()
    {
        var now = Now();
        var delays = _queue.Delays.Recent();
        return new QueueReport(
            Rule.Rule.Name,
            Number,
            _queue.Passed,
            _queue.Delayed,
            _queue.Dropped,
            _queue.DroppedAtCap,
            _queue.Unparsed,
            _queue.Held,
            DelaySamples.Percentile(delays, 0.5),
            DelaySamples.Percentile(delays, 0.99),
            _queue.Delays.MaxNs,
            _socket.NoBuffers,
            _socket.VerdictErrors,
            _queue.KeysTracked,
            _queue.Evictions,
            _queue.Keys(now),
            delays);
    }
}
