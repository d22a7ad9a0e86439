using Shaper.Packets;

namespace Shaper.Replay;

/// <summary>Packets to replay, in file order, with their own timestamps.</summary>
public interface IReplaySource : IDisposable
{
    /// <summary>Reads the next IP packet; false at the end. Frames that do not parse are counted and skipped.</summary>
    /// <exception cref="ReplayInputException">The input is broken (a bad CSV row, a corrupt capture).</exception>
    bool TryRead(out PacketMeta packet);

    /// <summary>What the parser made of the frames read so far.</summary>
    ParseCounters Counters { get; }

    /// <summary>
    /// Null while the input ends where a record ends; once the end came inside a record (a capture cut off, say by
    /// a full disk), what was cut. The frames before the cut were replayed; the cut one is counted as truncated.
    /// </summary>
    string? CutOff => null;
}
