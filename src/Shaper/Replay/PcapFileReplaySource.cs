using System.Buffers.Binary;
using Shaper.Packets;

namespace Shaper.Replay;

/// <summary>
/// Reads a classic pcap file (microsecond or nanosecond timestamps, either byte order) straight from a
/// buffered stream and parses each frame in place. Why not SharpPcap here: its per-packet path (a native
/// call and a header object per packet) costs several times the whole rest of a replay, and the classic
/// format is a 24-byte file header followed by 16-byte record headers. pcapng, whose block structure is
/// richer, is read through SharpPcap (<see cref="CaptureFileReplaySource"/>).
/// </summary>
public sealed class PcapFileReplaySource : IReplaySource
{
    /// <summary>The largest frame accepted; libpcap's own bound for a record (262144).</summary>
    private const int MaxFrame = 262_144;

    private readonly Stream _stream;
    private readonly string _path;
    private readonly bool _swapped;
    private readonly bool _nanoseconds;
    private readonly LinkKind _link;
    private byte[] _buffer = new byte[1 << 20];
    private int _start;
    private int _end;
    private long _frames;

    /// <summary>Opens <paramref name="path"/>, which must be a classic pcap file.</summary>
    /// <exception cref="ReplayInputException">Unreadable, not a classic pcap, or an unsupported link type.</exception>
    public PcapFileReplaySource(string path)
    {
        _path = path;
        try
        {
            _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ReplayInputException($"{path}: cannot read: {e.Message}", e);
        }

        if (!Fill(24))
        {
            _stream.Dispose();
            throw new ReplayInputException($"{path}: not a pcap or pcapng capture (too short for a pcap header)");
        }

        var header = _buffer.AsSpan(0, 24);
        (_swapped, _nanoseconds) = BinaryPrimitives.ReadUInt32LittleEndian(header) switch
        {
            0xA1B2C3D4 => (false, false),
            0xA1B23C4D => (false, true),
            0xD4C3B2A1 => (true, false),
            0x4D3CB2A1 => (true, true),
            _ => throw Fail("not a classic pcap capture (bad magic number)"),
        };

        var dlt = (int)(U32(header[20..]) & 0x0FFFFFFF);
        if (!PacketParser.TryFromLinkType(dlt, out _link))
        {
            _stream.Dispose();
            throw new ReplayInputException($"{path}: link type {dlt} is not supported; Ethernet, Linux cooked (v1, v2) and raw IP are");
        }

        _start = 24;
    }

    /// <summary>True when <paramref name="magic"/> (the file's first four bytes, little-endian) marks a classic pcap.</summary>
    public static bool IsClassicPcap(uint magic) => magic is 0xA1B2C3D4 or 0xA1B23C4D or 0xD4C3B2A1 or 0x4D3CB2A1;

    /// <inheritdoc />
    public ParseCounters Counters { get; } = new();

    /// <inheritdoc />
    public bool TryRead(out PacketMeta packet)
    {
        while (true)
        {
            if (!Fill(16))
            {
                if (_end > _start)
                {
                    // The file ends inside a record header: that frame is cut too.
                    Cut($"the file ends inside the header of frame {_frames + 1} ({_end - _start} of 16 bytes)");
                }

                packet = default;
                return false;
            }

            var record = _buffer.AsSpan(_start, 16);
            var seconds = U32(record);
            var fraction = U32(record[4..]);
            var captured = U32(record[8..]);
            if (captured > MaxFrame)
            {
                throw Fail($"the capture is corrupt at frame {_frames + 1} (a record of {captured} bytes)");
            }

            if (!Fill(16 + (int)captured))
            {
                // The file ends inside a frame, as a capture cut off by a full disk does: count it and stop.
                Cut($"the file ends inside frame {_frames + 1} ({_end - _start - 16} of its {captured} bytes)");
                packet = default;
                return false;
            }

            var frame = _buffer.AsSpan(_start + 16, (int)captured);
            _start += 16 + (int)captured;
            _frames++;
            var result = PacketParser.Parse(frame, _link, out packet);
            Counters.Record(result);
            if (result == ParseResult.Ok)
            {
                packet.TimestampNs = ((long)seconds * 1_000_000_000L) + (_nanoseconds ? fraction : fraction * 1000L);
                return true;
            }
        }
    }

    /// <inheritdoc />
    public string? CutOff { get; private set; }

    /// <inheritdoc />
    public void Dispose() => _stream.Dispose();

    private void Cut(string what)
    {
        if (CutOff is null)
        {
            Counters.Record(ParseResult.Truncated);
            _start = _end; // the cut bytes are read once
            CutOff = what;
        }
    }

    private uint U32(ReadOnlySpan<byte> bytes) =>
        _swapped ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : BinaryPrimitives.ReadUInt32LittleEndian(bytes);

    /// <summary>Makes at least <paramref name="count"/> bytes available from <see cref="_start"/>; false at end of file.</summary>
    private bool Fill(int count)
    {
        if (_end - _start >= count)
        {
            return true;
        }

        if (count > _buffer.Length)
        {
            Array.Resize(ref _buffer, count);
        }

        if (_buffer.Length - _start < count)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }

        while (_end - _start < count)
        {
            var read = _stream.Read(_buffer, _end, _buffer.Length - _end);
            if (read == 0)
            {
                return false;
            }

            _end += read;
        }

        return true;
    }

    private ReplayInputException Fail(string what)
    {
        _stream.Dispose();
        return new ReplayInputException($"{_path}: {what}");
    }
}
