using System.Buffers.Binary;
using System.Diagnostics;
using Shaper.Tests.Lab;
using Shaper.Tests.Replay;

namespace Shaper.Tests.Faults;

/// <summary>
/// Inputs that used to hang or mislead the offline commands (issue 14, item 12): a FIFO given to
/// <c>rules validate</c> or <c>replay</c> (they waited forever for a writer), a CSV that is one endless line (memory
/// grew with it), and captures cut off inside a record (exit 0 without a word, a cut inside a record header not even
/// counted). shaperctl runs as its own process, so that a hang is a timeout, not a stuck test.
/// </summary>
public sealed class InputFileFaultTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("shaper-input-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("rules", "shaper.toml", "shaper.toml:1:1: cannot read the file: it is a FIFO (named pipe)")] // rules validate
    [InlineData("replay", "events.csv", "shaperctl: replay: {0}: is a FIFO (named pipe); give a .pcap, .pcapng or .csv file")] // replay
    public void Command_OnAFifo_RefusesAtOnce(string command, string name, string error)
    {
        var fifo = Path.Combine(_directory, name);
        Run.Command("mkfifo", [fifo]).EnsureSuccess("mkfifo");
        string[] args = command == "rules" ? ["rules", "validate", fifo] : ["replay", fifo];

        var result = Shaperctl(TimeSpan.FromSeconds(60), args);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains(string.Format(System.Globalization.CultureInfo.InvariantCulture, error.Replace("shaper.toml", fifo, StringComparison.Ordinal), fifo), result.Output + result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Replay_CsvThatIsOneEndlessLine_IsRefusedWithinBoundedMemory()
    {
        // 64 MiB without a newline, replayed with a 64 MiB GC heap: reading the line whole (128 MiB as UTF-16) cannot fit.
        var csv = Path.Combine(_directory, "endless.csv");
        using (var file = File.Create(csv))
        {
            file.Write("time,src\n0.000,198.18.1.1"u8);
            var chunk = new byte[1 << 20];
            Array.Fill(chunk, (byte)'0');
            for (var i = 0; i < 64; i++)
            {
                file.Write(chunk);
            }
        }

        var result = Shaperctl(TimeSpan.FromSeconds(60), ["replay", csv], ("DOTNET_GCHeapHardLimit", "0x4000000"));

        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"shaperctl: replay: {csv}:2: the row is longer than 4096 characters; a row is time,src,dst,proto,sport,dport,len,flags\n", result.Error);
    }

    [Theory]
    [InlineData(6, "the file ends inside the header of frame 5 (6 of 16 bytes)")] // a cut inside a record header
    [InlineData(16 + 20, "the file ends inside frame 5 (20 of its 60 bytes)")] // a cut inside a frame
    public void Replay_PcapCutOff_ReplaysTheWholeFramesCountsTheCutAndWarns(int keep, string cut)
    {
        using var capture = new ReplayCapture();
        var rules = capture.Rule("rate = \"1/s\"\nburst = 5\n");
        var whole = File.ReadAllBytes(capture.Pcap(ReplayCapture.At(0, 5)));
        var path = Path.Combine(_directory, "cut.pcap");
        File.WriteAllBytes(path, whole[..(whole.Length - 16 - 60 + keep)]); // the last record: 16 bytes of header, a 60-byte frame

        var (code, output, error) = ReplayCapture.Run("replay", "--rules", rules, path);

        Assert.Equal(0, code);
        Assert.Contains("4 packets replayed, 0 allowed by the allow list, 1 frames skipped", output, StringComparison.Ordinal);
        Assert.Equal($"shaperctl: replay: warning: {path}: {cut}; the capture was cut off, the frames before the cut were replayed and the cut one is counted as truncated\n", error);
    }

    [Fact]
    public void Replay_PcapngCutOff_ReplaysTheWholeFramesAndWarns()
    {
        using var capture = new ReplayCapture();
        var rules = capture.Rule("rate = \"1/s\"\nburst = 5\n");
        var whole = Pcapng(3);
        var path = Path.Combine(_directory, "cut.pcapng");
        File.WriteAllBytes(path, whole[..^10]);

        var (code, output, error) = ReplayCapture.Run("replay", "--rules", rules, path);

        Assert.Equal(0, code);
        Assert.Contains("2 packets replayed", output, StringComparison.Ordinal);
        Assert.StartsWith($"shaperctl: replay: warning: {path}: the file ends inside frame 3 (truncated pcapng dump file", error, StringComparison.Ordinal);
    }

    /// <summary>A pcapng file: section header, one Ethernet interface, <paramref name="frames"/> UDP frames from 198.18.1.1 a millisecond apart.</summary>
    private static byte[] Pcapng(int frames)
    {
        static byte[] Block(uint type, byte[] body)
        {
            var block = new byte[12 + body.Length];
            BinaryPrimitives.WriteUInt32LittleEndian(block, type);
            BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(4), (uint)block.Length);
            body.CopyTo(block, 8);
            BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(block.Length - 4), (uint)block.Length);
            return block;
        }

        // Ethernet to 02:00:00:00:00:02, IPv4 198.18.1.1 -> 198.18.0.2, UDP 40000 -> 9000 with 4 bytes of payload.
        var frame = Convert.FromHexString("020000000002" + "020000000001" + "0800" + "450000200000000040110000c6120101c6120002" + "9c402328000c0000" + "00000000");
        var blocks = new List<byte[]>
        {
            Block(0x0A0D0D0A, [0x4D, 0x3C, 0x2B, 0x1A, 1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
            Block(1, [1, 0, 0, 0, 0xFF, 0xFF, 0, 0]),
        };
        for (var i = 0; i < frames; i++)
        {
            var body = new byte[20 + ((frame.Length + 3) & ~3)];
            BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(8), (uint)(i * 1000)); // microseconds, low word
            BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(12), (uint)frame.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(16), (uint)frame.Length);
            frame.CopyTo(body, 20);
            blocks.Add(Block(6, body));
        }

        return [.. blocks.SelectMany(b => b)];
    }

    private static ProcessResult Shaperctl(TimeSpan timeout, string[] args, params (string Name, string Value)[] environment)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "shaperctl.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"shaperctl {string.Join(' ', args)} did not finish in {timeout.TotalSeconds} s");
        }

        process.WaitForExit();
        return new ProcessResult(process.ExitCode, output.Result, error.Result);
    }
}
