namespace Shaper.Replay;

/// <summary>Opens a replay input by its extension: .pcap and .pcapng through libpcap, .csv as DESIGN.md's event CSV.</summary>
public static class ReplaySources
{
    /// <summary>Opens <paramref name="path"/>.</summary>
    /// <exception cref="ReplayInputException">The file is missing or is not a capture or a replay CSV.</exception>
    public static IReplaySource Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
        {
            throw new ReplayInputException($"{path}: is a directory; give a .pcap, .pcapng or .csv file");
        }

        if (!File.Exists(path))
        {
            throw new ReplayInputException($"{path}: no such file");
        }

        var extension = Path.GetExtension(path).ToLowerInvariant();
        return extension switch
        {
            ".csv" => new CsvReplaySource(path),
            ".pcap" or ".pcapng" or ".cap" => new CaptureFileReplaySource(path),
            _ => throw new ReplayInputException($"{path}: unknown input type '{extension}'; give a .pcap, .pcapng or .csv file"),
        };
    }
}
