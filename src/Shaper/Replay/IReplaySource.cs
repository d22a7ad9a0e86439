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

    /// <summary>
    /// Asks to be told, on the reading thread and before the first packet that carries it, each time the input names an
    /// interface it had not named (with every name and the number the replay gives it, from 1). Only the CSV's
    /// <c>iface</c> column names interfaces; a capture file's packets have none.
    /// </summary>
    void OnInterfaces(Action<IReadOnlyList<(string Name, int Index)>> named)
    {
    }
}
