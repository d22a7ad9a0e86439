namespace Shaper.Packets;

/// <summary>
/// Counts what <see cref="PacketParser"/> made of each frame, so that skipped frames are reported
/// ("counted and skipped") instead of vanishing.
/// </summary>
/// <remarks>
/// One writer: the capture or replay loop that parses calls <see cref="Record"/>, with a plain increment
/// rather than an interlocked one because it is on the per-packet path. Readers on other threads (status,
/// metrics) get a value that is at most a few packets old; 64-bit reads do not tear on the 64-bit platforms
/// the daemon runs on.
/// </remarks>
public sealed class ParseCounters
{
    private long _ok;
    private long _notIp;
    private long _truncated;
    private long _malformed;

    /// <summary>Frames parsed into a packet.</summary>
    public long Ok => Volatile.Read(ref _ok);

    /// <summary>Frames that were not IP (ARP, LLDP…).</summary>
    public long NotIp => Volatile.Read(ref _notIp);

    /// <summary>Frames cut before a header they announce.</summary>
    public long Truncated => Volatile.Read(ref _truncated);

    /// <summary>Frames with an inconsistent header.</summary>
    public long Malformed => Volatile.Read(ref _malformed);

    /// <summary>Frames skipped for any reason: everything but <see cref="Ok"/>.</summary>
    public long Skipped => NotIp + Truncated + Malformed;

    /// <summary>Every frame recorded.</summary>
    public long Total => Ok + Skipped;

    /// <summary>Counts one parse result. A value outside <see cref="ParseResult"/> counts as malformed.</summary>
    public void Record(ParseResult result)
    {
        switch (result)
        {
            case ParseResult.Ok:
                _ok++;
                break;
            case ParseResult.NotIp:
                _notIp++;
                break;
            case ParseResult.Truncated:
                _truncated++;
                break;
            default:
                _malformed++;
                break;
        }
    }

    /// <summary>The count for one result.</summary>
    public long this[ParseResult result] => result switch
    {
        ParseResult.Ok => Ok,
        ParseResult.NotIp => NotIp,
        ParseResult.Truncated => Truncated,
        ParseResult.Malformed => Malformed,
        _ => 0,
    };

    /// <inheritdoc />
    public override string ToString() =>
        $"ok={Ok} not_ip={NotIp} truncated={Truncated} malformed={Malformed}";
}
