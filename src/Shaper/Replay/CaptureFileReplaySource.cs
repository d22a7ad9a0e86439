using SharpPcap;
using SharpPcap.LibPcap;
using Shaper.Packets;

namespace Shaper.Replay;

/// <summary>
/// Reads a .pcap or .pcapng file through SharpPcap (libpcap) and parses each frame's bytes in place with
/// <see cref="PacketParser"/>: no <c>GetPacket()</c>, no per-packet allocation.
/// </summary>
public sealed class CaptureFileReplaySource : IReplaySource
{
    private readonly CaptureFileReaderDevice _device;
    private readonly LinkKind _link;
    private readonly string _path;

    /// <summary>Opens <paramref name="path"/>.</summary>
    /// <exception cref="ReplayInputException">Missing, unreadable, not a capture, or of an unsupported link type.</exception>
    public CaptureFileReplaySource(string path)
    {
        _path = path;
        if (!File.Exists(path))
        {
            throw new ReplayInputException($"{path}: no such file");
        }

        _device = new CaptureFileReaderDevice(path);
        try
        {
            _device.Open();
        }
        catch (Exception e) when (e is PcapException or IOException or DllNotFoundException)
        {
            _device.Dispose();
            throw new ReplayInputException($"{path}: not a pcap or pcapng capture ({FirstLine(e.Message)})", e);
        }

        var dlt = (int)_device.LinkType;
        if (!PacketParser.TryFromLinkType(dlt, out _link))
        {
            _device.Dispose();
            throw new ReplayInputException($"{path}: link type {dlt} is not supported; Ethernet, Linux cooked (v1, v2) and raw IP are");
        }
    }

    /// <inheritdoc />
    public ParseCounters Counters { get; } = new();

    /// <inheritdoc />
    public bool TryRead(out PacketMeta packet)
    {
        while (true)
        {
            var status = _device.GetNextPacket(out var capture);
            if (status != GetPacketStatus.PacketRead)
            {
                if (status == GetPacketStatus.Error && _device.LastError is { } why && why.Contains("truncated", StringComparison.Ordinal))
                {
                    // libpcap's "truncated ... dump file; tried to read N bytes, only got M": cut off, as by a full disk.
                    Counters.Record(ParseResult.Truncated);
                    CutOff = $"the file ends inside frame {Counters.Total} ({FirstLine(why)})";
                }
                else if (status == GetPacketStatus.Error)
                {
                    throw new ReplayInputException($"{_path}: the capture is corrupt after {Counters.Total} frames");
                }

                packet = default;
                return false;
            }

            var result = PacketParser.Parse(capture.Data, _link, out packet);
            Counters.Record(result);
            if (result == ParseResult.Ok)
            {
                var time = capture.Header.Timeval;
                packet.TimestampNs = ((long)time.Seconds * 1_000_000_000L) + ((long)time.MicroSeconds * 1000L);
                return true;
            }
        }
    }

    /// <inheritdoc />
    public string? CutOff { get; private set; }

    /// <inheritdoc />
    public void Dispose() => _device.Dispose();

    private static string FirstLine(string message)
    {
        var end = message.IndexOfAny(['\r', '\n']);
        return end < 0 ? message : message[..end];
    }
}
