using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Shaper.Tests.Lab;

namespace Shaper.Tests.Queue;

/// <summary>
/// Timed UDP traffic through a lab: senders bound to source addresses in namespace A, each packet carrying its source
/// index, sequence number and send time (this process's monotonic clock), and a receiver in B that stamps each arrival
/// on the same clock, so one-way delay through the host under test is receive time less send time.
/// </summary>
internal sealed class UdpProbe : IDisposable
{
    public const int Port = 9000;
    private readonly Socket[] _receivers;
    private readonly Socket[] _senders;
    private readonly Thread[] _receiveThreads;
    private readonly List<Arrival> _arrivals = [];
    private volatile bool _stopping;

    private UdpProbe(Socket[] receivers, Socket[] senders)
    {
        _receivers = receivers;
        _senders = senders;
        _receiveThreads = [.. receivers.Select((r, i) => new Thread(() => Receive(r, Port + i)) { IsBackground = true })];
        foreach (var thread in _receiveThreads)
        {
            thread.Start();
        }
    }

    /// <summary>One packet received: which source, its number, when it was sent and received (Stopwatch ticks).</summary>
    public readonly record struct Arrival(int Source, int Sequence, long SentTicks, long ReceivedTicks, int Port)
    {
        public double DelayMs => (ReceivedTicks - SentTicks) * 1000.0 / Stopwatch.Frequency;
    }

    private int _sentSoFar;

    /// <summary>Packets sent so far (sequence numbers below this are out), read while sending.</summary>
    public int SentSoFar => Volatile.Read(ref _sentSoFar);

    /// <summary>Packets each source sent.</summary>
    public int[] Sent { get; private set; } = [];

    public static UdpProbe Open(NetworkLab lab, IReadOnlyList<string> sources)
    {
        using var b = new NamespaceThread(lab.B);
        var receivers = b.Invoke(() => new[] { Port, Port + 1 }.Select(port =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 8 << 20, ReceiveTimeout = 100 };
            socket.Bind(new IPEndPoint(IPAddress.Parse("198.18.0.2"), port));
            return socket;
        }).ToArray());
        using var a = new NamespaceThread(lab.A);
        var senders = a.Invoke(() => sources.Select(s =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(IPAddress.Parse(s), 0));
            return socket;
        }).ToArray());
        return new UdpProbe(receivers, senders);
    }

    /// <summary>
    /// Sends <paramref name="perSecond"/> packets a second from each source for <paramref name="duration"/>, the sources
    /// interleaved evenly; bounded by count. With <paramref name="alternate"/> a source's packets go to port 9000 and 9001
    /// in turn. Returns the send start (Stopwatch ticks).
    /// </summary>
    public long Send(int perSecond, TimeSpan duration, int[]? only = null, int startAt = 0, Action? at = null, int atCount = 0, bool alternate = false)
    {
        var sources = only ?? [.. Enumerable.Range(0, _senders.Length)];
        var period = Stopwatch.Frequency / perSecond;
        var count = (int)(duration.TotalSeconds * perSecond);
        var sent = new int[_senders.Length];
        var total = 0;
        Thread? fired = null;
        Exception? failed = null;
        var next = new long[sources.Length];
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < sources.Length; i++)
        {
            next[i] = start + (period * i / sources.Length);
        }

        IPEndPoint[] to = [new(IPAddress.Parse("198.18.0.2"), Port), new(IPAddress.Parse("198.18.0.2"), Port + 1)];
        var payload = new byte[16];
        var remaining = count * sources.Length;
        var thread = new Thread(() =>
        {
            while (remaining > 0)
            {
                var now = Stopwatch.GetTimestamp();
                var any = false;
                for (var i = 0; i < sources.Length; i++)
                {
                    var s = sources[i];
                    if (sent[s] < count && next[i] <= now)
                    {
                        BinaryPrimitives.WriteInt32LittleEndian(payload, s);
                        BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(4), startAt + sent[s]);
                        BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(8), Stopwatch.GetTimestamp());
                        _senders[s].SendTo(payload, to[alternate ? sent[s] % 2 : 0]);
                        sent[s]++;
                        remaining--;
                        Volatile.Write(ref _sentSoFar, startAt + ++total);
                        if (at is not null && total == atCount)
                        {
                            // Off the send thread, which keeps its pace, and on a thread of its own: the thread pool of a
                            // test process full of blocked tests can take seconds to start a work item.
                            fired = new Thread(() =>
                            {
                                try
                                {
                                    at();
                                }
                                catch (Exception e)
                                {
                                    failed = e;
                                }
                            })
                            { IsBackground = true };
                            fired.Start();
                        }

                        next[i] += period;
                        any = true;
                    }
                }

                if (!any)
                {
                    Thread.Sleep(1);
                }
            }
        })
        { Priority = ThreadPriority.Highest };
        thread.Start();
        thread.Join();
        fired?.Join();
        if (failed is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failed);
        }

        Sent = sent;
        return start;
    }

    /// <summary>Stops receiving once nothing has come for <paramref name="quiet"/> (bounded by <paramref name="max"/>) and returns what came.</summary>
    public List<Arrival> Finish(TimeSpan quiet, TimeSpan max)
    {
        var deadline = Stopwatch.StartNew();
        var last = Count;
        var still = Stopwatch.StartNew();
        while (deadline.Elapsed < max && still.Elapsed < quiet)
        {
            Thread.Sleep(20);
            if (Count != last)
            {
                last = Count;
                still.Restart();
            }
        }

        _stopping = true;
        foreach (var thread in _receiveThreads)
        {
            thread.Join();
        }

        lock (_arrivals)
        {
            return [.. _arrivals];
        }
    }

    /// <summary>Packets received so far.</summary>
    public int Count
    {
        get
        {
            lock (_arrivals)
            {
                return _arrivals.Count;
            }
        }
    }

    public void Dispose()
    {
        _stopping = true;
        foreach (var thread in _receiveThreads)
        {
            thread.Join();
        }

        foreach (var receiver in _receivers)
        {
            receiver.Dispose();
        }

        foreach (var sender in _senders)
        {
            sender.Dispose();
        }
    }

    private void Receive(Socket receiver, int port)
    {
        var buffer = new byte[64];
        while (!_stopping)
        {
            int n;
            try
            {
                n = receiver.Receive(buffer);
            }
            catch (SocketException)
            {
                continue; // the 100 ms receive timeout: look at the stop flag
            }

            var now = Stopwatch.GetTimestamp();
            if (n >= 16)
            {
                var arrival = new Arrival(
                    BinaryPrimitives.ReadInt32LittleEndian(buffer),
                    BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(4)),
                    BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(8)),
                    now,
                    port);
                lock (_arrivals)
                {
                    _arrivals.Add(arrival);
                }
            }
        }
    }
}
