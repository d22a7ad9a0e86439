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

        // Opening a FIFO would wait for a writer forever; a device or socket is no capture either.
        if (Files.RegularFile.NotRegular(path) is { } kind)
        {
            throw new ReplayInputException($"{path}: is {kind}; give a .pcap, .pcapng or .csv file");
        }

        var extension = Path.GetExtension(path).ToLowerInvariant();
        return extension switch
        {
            ".csv" => new CsvReplaySource(path),
            ".pcap" or ".pcapng" or ".cap" => IsClassicPcap(path) ? new PcapFileReplaySource(path) : new CaptureFileReplaySource(path),
            _ => throw new ReplayInputException($"{path}: unknown input type '{extension}'; give a .pcap, .pcapng or .csv file"),
        };
    }

    /// <summary>Decides by the magic number, not the name: many .pcap files are really pcapng.</summary>
    private static bool IsClassicPcap(string path)
    {
        Span<byte> magic = stackalloc byte[4];
        try
        {
            using var file = File.OpenRead(path);
            return file.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4
                && PcapFileReplaySource.IsClassicPcap(System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(magic));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ReplayInputException($"{path}: cannot read: {e.Message}", e);
        }
    }
}
