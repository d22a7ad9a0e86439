using SharpPcap;
using SharpPcap.LibPcap;
using Shaper.Packets;

namespace Shaper.Capture;

/// <summary>
/// Live capture with libpcap (SharpPcap) on one interface (or <c>any</c>): each frame's bytes are parsed in
/// place on the capture thread (no <c>GetPacket()</c>, no per-packet allocation) and the packet goes into a
/// <see cref="PacketRing"/> for the engine thread. Frames that do not parse are counted and skipped.
/// </summary>
public sealed class LiveCapture : IDisposable
{
    private readonly LibPcapLiveDevice _device;
    private readonly PacketRing _ring;
    private readonly CancellationTokenSource _stop = new();
    private Thread? _thread;
    private LinkKind _link;

    private LiveCapture(LibPcapLiveDevice device, PacketRing ring)
    {
        _device = device;
        _ring = ring;
    }

    /// <summary>What the parser made of captured frames.</summary>
    public ParseCounters Frames { get; } = new();

    /// <summary>
    /// Opens <paramref name="interfaceName"/> with <paramref name="filter"/> (a libpcap expression; empty for
    /// everything) and starts capturing into <paramref name="ring"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">No such interface, no permission, a bad filter, or an unsupported link type; the message says which.</exception>
    public static LiveCapture Start(string interfaceName, string filter, PacketRing ring)
    {
        ArgumentNullException.ThrowIfNull(ring);
        LibPcapLiveDevice? device = null;
        foreach (var candidate in LibPcapLiveDeviceList.New())
        {
            if (candidate.Name == interfaceName)
            {
                device = candidate;
                break;
            }
        }

        if (device is null)
        {
            throw new InvalidOperationException($"no capture interface named '{interfaceName}'");
        }

        var capture = new LiveCapture(device, ring);
        try
        {
            device.Open(new DeviceConfiguration
            {
                Mode = DeviceModes.None,
                Snaplen = 192,
                ReadTimeout = 1,
                BufferSize = 32 << 20,
                Immediate = true,
            });
            if (!PacketParser.TryFromLinkType((int)device.LinkType, out capture._link))
            {
                throw new InvalidOperationException($"interface '{interfaceName}' has link type {(int)device.LinkType}, which the parser does not read");
            }

            if (filter.Length > 0)
            {
                device.Filter = filter;
            }

            // Our own read loop over pcap_next_ex: the frame is parsed where libpcap holds it, nothing allocated.
            capture._thread = new Thread(capture.ReadLoop) { IsBackground = true, Name = "shaper-capture" };
            capture._thread.Start();
            return capture;
        }
        catch (PcapException e)
        {
            device.Dispose();
            throw new InvalidOperationException($"cannot capture on '{interfaceName}': {e.Message.Split('\n')[0]}", e);
        }
    }

    /// <summary>libpcap's and the hand-off's counts.</summary>
    public CaptureStats Stats
    {
        get
        {
            var stats = _device.Statistics;
            return new CaptureStats(
                (long)(stats?.ReceivedPackets ?? 0),
                (long)(stats?.DroppedPackets ?? 0),
                (long)(stats?.InterfaceDroppedPackets ?? 0),
                _ring.Dropped);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _stop.Cancel();

        // With no traffic, pcap_next_ex can sit in poll() past the read timeout (seen here with immediate mode),
        // so a stop would wait for the next packet; breakloop wakes it at once.
        NativePcap.BreakLoop(_device.Handle);
        _thread?.Join();
        _device.Dispose();
        _stop.Dispose();
    }

    private unsafe void ReadLoop()
    {
        // Dispose wakes this loop with pcap_breakloop; the read timeout (1 ms) is a second bound.
        var handle = _device.Handle;
        _ = Threading.ThreadNice.Set(Threading.ThreadNice.EnforcementPath);
        while (!_stop.IsCancellationRequested)
        {
            var status = NativePcap.NextEx(handle, out var header, out var data);
            if (status == 0)
            {
                continue;
            }

            if (status != 1)
            {
                return;
            }

            var frame = new ReadOnlySpan<byte>(data, (int)header->CaptureLength);
            var result = PacketParser.Parse(frame, _link, out var packet);
            Frames.Record(result);
            if (result == ParseResult.Ok)
            {
                packet.TimestampNs = (header->Seconds * 1_000_000_000L) + (header->Microseconds * 1000L);
                _ring.TryWrite(packet);
            }
        }
    }
}
