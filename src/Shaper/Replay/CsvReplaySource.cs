using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Shaper.Engine;
using Shaper.Packets;

namespace Shaper.Replay;

/// <summary>
/// Reads DESIGN.md's replay CSV: a header row, then one event per row. <c>time</c> (seconds, decimal)
/// and <c>src</c> are required; <c>dst</c>, <c>proto</c>, <c>sport</c>, <c>dport</c>, <c>len</c> and
/// <c>flags</c> default to 0.0.0.0, udp, 0, 0, 64 and none (<c>S</c> marks a SYN); <c>iface</c>, the interface the
/// packet arrived on, to none (a rule with <c>match.iface</c> matches no such packet). The clock is the
/// <c>time</c> column, starting wherever the file starts. A row longer than <see cref="MaxLineChars"/> is an error:
/// a file that is one endless line must not grow memory without bound.
/// </summary>
public sealed class CsvReplaySource : IReplaySource
{
    /// <summary>The longest row read; a full row with IPv6 addresses is under 150 characters.</summary>
    public const int MaxLineChars = 4096;

    private static readonly string[] Known = ["time", "src", "dst", "proto", "sport", "dport", "len", "flags", "iface"];

    // Rows are read into this one buffer and parsed in place: no string per row, and never more than it holds.
    private readonly char[] _chars = new char[MaxLineChars * 2];
    private int _start;
    private int _end;
    private bool _endOfFile;

    private readonly TextReader _reader;
    private readonly string _name;
    private readonly int[] _column = new int[Known.Length];
    private readonly int _columns;
    private int _row = 1;
    private readonly Dictionary<string, int> _interfaces = new(StringComparer.Ordinal);
    private Action<IReadOnlyList<(string Name, int Index)>>? _named;

    /// <summary>Opens <paramref name="path"/>; the header row is read and checked at once.</summary>
    public CsvReplaySource(string path)
        : this(OpenFile(path), path)
    {
    }

    /// <summary>Reads CSV from <paramref name="reader"/>, naming it <paramref name="name"/> in messages.</summary>
    public CsvReplaySource(TextReader reader, string name)
    {
        _reader = reader;
        _name = name;
        Array.Fill(_column, -1);
        if (!TryReadLine(out var headerLine))
        {
            throw new ReplayInputException($"{name}: empty file; expected a header row such as time,src,dst,proto,sport,dport,len,flags");
        }

        var names = headerLine.ToString().Split(',');
        _columns = names.Length;
        for (var i = 0; i < names.Length; i++)
        {
            var column = names[i].Trim().ToLowerInvariant();
            var index = Array.IndexOf(Known, column);
            if (index < 0)
            {
                throw new ReplayInputException($"{name}:1: unknown column '{column}'; columns are {string.Join(',', Known)}");
            }

            if (_column[index] >= 0)
            {
                throw new ReplayInputException($"{name}:1: column '{column}' appears twice");
            }

            _column[index] = i;
        }

        if (_column[0] < 0 || _column[1] < 0)
        {
            throw new ReplayInputException($"{name}:1: the header must name the columns 'time' and 'src'");
        }
    }

    /// <inheritdoc />
    public ParseCounters Counters { get; } = new();

    /// <inheritdoc />
    public bool TryRead(out PacketMeta packet)
    {
        packet = default;
        ReadOnlySpan<char> span;
        do
        {
            _row++;
            if (!TryReadLine(out span))
            {
                return false;
            }
        }
        while (span.IsWhiteSpace());

        Span<Range> ranges = stackalloc Range[Known.Length + 1];
        var count = span.Split(ranges, ',');
        if (count != _columns)
        {
            throw Bad($"{count} fields, the header has {_columns}");
        }

        packet.TimestampNs = ParseTime(Field(span, ranges, 0));
        var src = ParseAddress(Field(span, ranges, 1), "src");
        var dstText = Field(span, ranges, 2);
        var dst = dstText.IsEmpty ? (src.Family, Address: UInt128.Zero) : ParseAddress(dstText, "dst");
        if (src.Family != dst.Family)
        {
            throw Bad("src and dst are of different address families");
        }

        packet.Family = src.Family;
        packet.Source = src.Address;
        packet.Destination = dst.Address;
        packet.Protocol = ParseProtocol(Field(span, ranges, 3), src.Family);
        packet.SourcePort = ParsePort(Field(span, ranges, 4), "sport");
        packet.DestinationPort = ParsePort(Field(span, ranges, 5), "dport");
        packet.IpLength = ParseLength(Field(span, ranges, 6));
        packet.TcpFlags = ParseFlags(Field(span, ranges, 7));
        packet.InterfaceIndex = ParseInterface(Field(span, ranges, 8));
        if (packet.Protocol is not (6 or 17))
        {
            packet.SourcePort = 0;
            packet.DestinationPort = 0;
        }

        Counters.Record(ParseResult.Ok);
        return true;
    }

    /// <inheritdoc />
    public void OnInterfaces(Action<IReadOnlyList<(string Name, int Index)>> named) => _named = named;

    /// <inheritdoc />
    public void Dispose() => _reader.Dispose();

    /// <summary>The number the replay gives the interface named <paramref name="text"/>: 0 for none, else from 1 in order of first appearance.</summary>
    private int ParseInterface(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty)
        {
            return 0;
        }

        if (_interfaces.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(text, out var index))
        {
            return index;
        }

        // Linux names an interface in at most 15 bytes, without spaces or slashes (IFNAMSIZ, dev_valid_name).
        if (text.Length > 15 || text.ContainsAny(" /\t") || text is "." or "..")
        {
            throw Bad($"iface '{text}' is not an interface name (at most 15 characters, no spaces or '/')");
        }

        index = _interfaces.Count + 1;
        _interfaces.Add(text.ToString(), index);
        _named?.Invoke([.. _interfaces.Select(i => (i.Key, i.Value))]);
        return index;
    }

    /// <summary>The next line without its end (<c>\n</c> or <c>\r\n</c>), pointing into the buffer; false at the end.</summary>
    private bool TryReadLine(out ReadOnlySpan<char> line)
    {
        while (true)
        {
            var pending = _chars.AsSpan(_start, _end - _start);
            var newline = pending.IndexOf('\n');
            if (newline >= 0 && newline <= MaxLineChars)
            {
                line = pending[..newline].TrimEnd('\r');
                _start += newline + 1;
                return true;
            }

            if (pending.Length > MaxLineChars)
            {
                throw Bad($"the row is longer than {MaxLineChars} characters; a row is time,src,dst,proto,sport,dport,len,flags");
            }

            if (_endOfFile)
            {
                line = pending.TrimEnd('\r');
                _start = _end;
                return pending.Length > 0;
            }

            pending.CopyTo(_chars);
            _end = pending.Length;
            _start = 0;
            var read = _reader.Read(_chars, _end, _chars.Length - _end);
            _endOfFile = read == 0;
            _end += read;
        }
    }

    private ReadOnlySpan<char> Field(ReadOnlySpan<char> line, ReadOnlySpan<Range> ranges, int column) =>
        _column[column] < 0 ? default : line[ranges[_column[column]]].Trim();

    private static StreamReader OpenFile(string path)
    {
        try
        {
            return new StreamReader(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ReplayInputException($"{path}: cannot read: {e.Message}", e);
        }
    }

    private long ParseTime(ReadOnlySpan<char> text)
    {
        if (!decimal.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds)
            || seconds > 9_000_000_000m)
        {
            throw Bad($"time '{text}' is not a non-negative number of seconds");
        }

        return (long)decimal.Round(seconds * 1_000_000_000m);
    }

    private (IpFamily Family, UInt128 Address) ParseAddress(ReadOnlySpan<char> text, string column)
    {
        if (!IPAddress.TryParse(text, out var address) || text.Contains('/'))
        {
            throw Bad($"{column} '{text}' is not an IP address");
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        return address.AddressFamily == AddressFamily.InterNetwork
            ? (IpFamily.V4, AddressSet.ToV4(address))
            : (IpFamily.V6, AddressSet.ToV6(address));
    }

    private byte ParseProtocol(ReadOnlySpan<char> text, IpFamily family)
    {
        if (text.IsEmpty || text.Equals("udp", StringComparison.OrdinalIgnoreCase))
        {
            return 17;
        }

        if (text.Equals("tcp", StringComparison.OrdinalIgnoreCase))
        {
            return 6;
        }

        if (text.Equals("icmp", StringComparison.OrdinalIgnoreCase))
        {
            return family == IpFamily.V6 ? (byte)58 : (byte)1;
        }

        if (text.Equals("icmpv6", StringComparison.OrdinalIgnoreCase))
        {
            return 58;
        }

        return byte.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
            ? number
            : throw Bad($"proto '{text}' is not tcp, udp, icmp, icmpv6 or a protocol number");
    }

    private ushort ParsePort(ReadOnlySpan<char> text, string column) =>
        text.IsEmpty ? (ushort)0
        : ushort.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) ? port
        : throw Bad($"{column} '{text}' is not a port (0-65535)");

    private int ParseLength(ReadOnlySpan<char> text) =>
        text.IsEmpty ? 64
        : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var length) && length is > 0 and <= 65535 ? length
        : throw Bad($"len '{text}' is not a packet length (1-65535)");

    private TcpFlags ParseFlags(ReadOnlySpan<char> text)
    {
        var flags = TcpFlags.None;
        foreach (var c in text)
        {
            flags |= char.ToUpperInvariant(c) switch
            {
                'S' => TcpFlags.Syn,
                'A' => TcpFlags.Ack,
                'F' => TcpFlags.Fin,
                'R' => TcpFlags.Rst,
                'P' => TcpFlags.Psh,
                'U' => TcpFlags.Urg,
                'E' => TcpFlags.Ece,
                'C' => TcpFlags.Cwr,
                _ => throw Bad($"flags '{text}' holds '{c}'; use the letters S A F R P U E C"),
            };
        }

        return flags;
    }

    private ReplayInputException Bad(string what) => new($"{_name}:{_row}: {what}");
}
