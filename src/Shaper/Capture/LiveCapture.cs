using System.Globalization;
using Shaper.Resilience;

namespace Shaper.Capture;

/// <summary>
/// Live capture on one interface, over the engine's <see cref="CaptureLane"/>s: one socket per lane, joined in a
/// <c>PACKET_FANOUT</c> group whose program shares packets by <see cref="FanoutKey"/> so each key stays on one
/// lane. Capture that cannot start (no such interface yet) or is lost (the interface deleted, a libpcap error) is
/// retried with capped exponential backoff and full jitter until it works again; the lanes keep their engines, and
/// so their keys, meanwhile. Nothing here throws at start: the state says what is wrong.
/// </summary>
public sealed class LiveCapture : IDisposable
{
    /// <summary>
    /// The buffer timeout: the longest a packet waits in a partly filled block before the thread sees it. Below about
    /// 1.5 M packets a second a block is handed over at this timeout, not full, so a ring holds its block count times
    /// this much traffic (128 ms for 32 MB): 2 ms doubled the burst a thread could fall behind by without a drop and
    /// added up to 1 ms to detection (docs/performance-log.md, "Two capture threads against one").
    /// </summary>
    public const int BufferTimeoutMs = 1;

    private const int Snaplen = 192;
    private const int BufferBytes = 32 << 20;
    private static readonly TimeSpan RetryBase = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan RetryCap = TimeSpan.FromSeconds(5);
    private static int s_groups;

    private readonly IReadOnlyList<CaptureLane> _lanes;
    private readonly TimeProvider _time;
    private readonly Random _random = new();
    private readonly object _gate = new();
    private ITimer? _retry;
    private int _attempt;
    private long _openedAt;
    private bool _running;
    private bool _disposed;

    private LiveCapture(string interfaceName, string filter, FanoutKey fanout, IReadOnlyList<CaptureLane> lanes, TimeProvider time)
    {
        Interface = interfaceName;
        Filter = filter;
        Fanout = fanout;
        _lanes = lanes;
        _time = time;
        foreach (var lane in lanes)
        {
            lane.Lost += OnLost;
        }
    }

    /// <summary>Raised when capture is lost (after it ran), with the reason.</summary>
    public event Action<string>? Lost;

    /// <summary>Raised when an attempt to (re)open fails: the attempt's number from 1, the reason and the delay before the next.</summary>
    public event Action<int, string, TimeSpan>? RetryFailed;

    /// <summary>Raised when capture runs again after failed attempts or a loss: how many attempts it took.</summary>
    public event Action<int>? Resumed;

    /// <summary>The interface.</summary>
    public string Interface { get; }

    /// <summary>The libpcap filter.</summary>
    public string Filter { get; }

    /// <summary>How the lanes share packets.</summary>
    public FanoutKey Fanout { get; }

    /// <summary>True while every lane reads its socket.</summary>
    public bool Running
    {
        get
        {
            lock (_gate)
            {
                return _running;
            }
        }
    }

    /// <summary>Why capture is not running (the last failure), null while it runs.</summary>
    public string? LastError { get; private set; }

    /// <summary>Failed attempts since capture last ran.</summary>
    public int Retries => Volatile.Read(ref _attempt);

    /// <summary>Times capture was lost after running.</summary>
    public long Losses { get; private set; }

    /// <summary>The kernel's counts over every lane (its closed sockets included).</summary>
    public CaptureStats Stats
    {
        get
        {
            long received = 0, dropped = 0, ifDropped = 0;
            foreach (var lane in _lanes)
            {
                var s = lane.Stats;
                received += s.Received;
                dropped += s.PcapDropped;
                ifDropped += s.InterfaceDropped;
            }

            return new CaptureStats(received, dropped, ifDropped, 0);
        }
    }

    /// <summary>
    /// Starts capturing <paramref name="interfaceName"/> with <paramref name="filter"/> into <paramref name="lanes"/>,
    /// shared by <paramref name="fanout"/> when there is more than one lane. An interface that is absent or cannot be
    /// opened yet is retried; subscribe to the events before the first retry with <paramref name="subscribe"/>.
    /// </summary>
    public static LiveCapture Start(string interfaceName, string filter, FanoutKey fanout, IReadOnlyList<CaptureLane> lanes, TimeProvider time, Action<LiveCapture>? subscribe = null)
    {
        ArgumentNullException.ThrowIfNull(lanes);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfZero(lanes.Count);
        var capture = new LiveCapture(interfaceName, filter, fanout, lanes, time);
        subscribe?.Invoke(capture);
        capture.TryOpen();
        return capture;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _running = false;
            _retry?.Dispose();
            _retry = null;
        }

        foreach (var lane in _lanes)
        {
            lane.Lost -= OnLost;
        }

        Task.WaitAll([.. _lanes.Select(l => l.DetachAsync())], TimeSpan.FromSeconds(5));
    }

    private void TryOpen()
    {
        lock (_gate)
        {
            if (_disposed || _running)
            {
                return;
            }

            var sockets = new List<CaptureSocket>();
            try
            {
                // Each ring whole, however many lanes: libpcap cuts a ring into 256 KB blocks and the kernel hands
                // one over at every buffer timeout, however few packets it holds, so at ordinary rates a ring holds
                // (its blocks) milliseconds of traffic, and that is how long its thread may stall without a drop.
                for (var i = 0; i < _lanes.Count; i++)
                {
                    sockets.Add(CaptureSocket.Open(Interface, Filter, BufferBytes, BufferTimeoutMs, Snaplen));
                }

                if (sockets.Count > 1)
                {
                    JoinGroup(sockets);
                }
            }
            catch (Exception e) when (e is InvalidOperationException or DllNotFoundException)
            {
                foreach (var socket in sockets)
                {
                    socket.Dispose();
                }

                Fail(e.Message);
                return;
            }

            for (var i = 0; i < sockets.Count; i++)
            {
                _lanes[i].Attach(sockets[i]);
            }

            var attempts = _attempt;
            _running = true;
            _attempt = 0;
            LastError = null;
            _openedAt = _time.GetTimestamp();
            if (attempts > 0 || Losses > 0)
            {
                Resumed?.Invoke(attempts);
            }
        }
    }

    private void JoinGroup(List<CaptureSocket> sockets)
    {
        // Group ids are per network namespace: this process's id and a counter keep two captures apart, and a
        // clash fails this attempt, whose retry takes the next id.
        var group = (ushort)((Environment.ProcessId * 31) + Interlocked.Increment(ref s_groups));
        foreach (var socket in sockets)
        {
            socket.JoinFanout(group);
        }

        sockets[0].SetFanoutProgram(FanoutProgram.Build(Fanout));
    }

    /// <summary>Called under the gate: records <paramref name="reason"/> and schedules the next attempt.</summary>
    private void Fail(string reason)
    {
        LastError = reason;
        var attempt = _attempt++;
        var delay = Backoff.FullJitter(attempt, RetryBase, RetryCap, _random);
        _retry?.Dispose();
        _retry = _time.CreateTimer(_ => TryOpen(), null, delay, Timeout.InfiniteTimeSpan);
        RetryFailed?.Invoke(attempt + 1, reason, delay);
    }

    private void OnLost(CaptureLane lane, string reason)
    {
        lock (_gate)
        {
            if (_disposed || !_running)
            {
                return;
            }

            _running = false;
            Losses++;
            LastError = reason;
            foreach (var other in _lanes)
            {
                if (other != lane)
                {
                    _ = other.DetachAsync();
                }
            }

            Lost?.Invoke(string.Create(CultureInfo.InvariantCulture, $"{reason} (after {_time.GetElapsedTime(_openedAt).TotalSeconds:F0} s of capture)"));
            var delay = Backoff.FullJitter(0, RetryBase, RetryCap, _random);
            _retry?.Dispose();
            _retry = _time.CreateTimer(_ => TryOpen(), null, delay, Timeout.InfiniteTimeSpan);
        }
    }
}
