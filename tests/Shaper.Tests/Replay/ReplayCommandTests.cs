using System.Text.Json;
using static Shaper.Tests.Replay.ReplayCapture;

namespace Shaper.Tests.Replay;

/// <summary><c>shaperctl replay</c>, run in process: exit codes, one-line errors on stderr, and the JSON shape.</summary>
public sealed class ReplayCommandTests : IDisposable
{
    private readonly ReplayCapture _capture = new();

    public void Dispose() => _capture.Dispose();

    [Fact]
    public void Replay_MissingInput_ExitsOneWithOneLine()
    {
        var rules = _capture.Rule("rate = \"1/s\"\nburst = 1\n");
        var input = _capture.File("present.csv", "time,src\n") + ".gone.pcap";

        var (code, output, error) = Run("replay", "--rules", rules, input);

        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Equal($"shaperctl: replay: {input}: no such file\n", error);
    }

    [Theory]
    [InlineData("notes.pcap", "this is a text file, not a capture\n")] // a .pcap that is not one
    [InlineData("empty.pcap", "")] // an empty file
    [InlineData("half.pcapng", "\n\r\r\n\x1c\0\0\0")] // a pcapng section header cut short
    public void Replay_NotACapture_ExitsOneWithOneLineNamingTheFile(string name, string content)
    {
        var rules = _capture.Rule("rate = \"1/s\"\nburst = 1\n");
        var input = _capture.File(name, content);

        var (code, output, error) = Run("replay", "--rules", rules, input);

        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.StartsWith($"shaperctl: replay: {input}: not a pcap or pcapng capture", error, StringComparison.Ordinal);
        Assert.Equal(error.Length - 1, error.IndexOf('\n', StringComparison.Ordinal));
    }

    [Fact]
    public void Replay_BadCsvRow_ExitsOneNamingFileAndRow()
    {
        var rules = _capture.Rule("rate = \"1/s\"\nburst = 1\n");
        var input = _capture.File("events.csv", "time,src,dport\n0.0,198.18.1.1,22\n0.5,198.18.1.1,twenty-two\n");

        var (code, output, error) = Run("replay", "--rules", rules, "--json", input);

        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Equal($"shaperctl: replay: {input}:3: dport 'twenty-two' is not a port (0-65535)\n", error);
    }

    [Fact]
    public void Replay_UnknownExtension_ExitsOneWithOneLine()
    {
        var rules = _capture.Rule("rate = \"1/s\"\nburst = 1\n");
        var input = _capture.File("capture.txt", "time,src\n");

        var (code, _, error) = Run("replay", "--rules", rules, input);

        Assert.Equal(1, code);
        Assert.Equal($"shaperctl: replay: {input}: unknown input type '.txt'; give a .pcap, .pcapng or .csv file\n", error);
    }

    [Fact]
    public void Replay_RulesWithErrors_ExitsOneAndReplaysNothing()
    {
        var rules = _capture.Rule("rate = \"1/s\"\nburts = 1\n");
        var input = _capture.Pcap(At(0, 1));

        var (code, output, error) = Run("replay", "--rules", rules, input);

        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.EndsWith("shaperctl: replay: the rules have errors; nothing was replayed\n", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Replay_NoInput_ExitsTwoWithUsage()
    {
        var (code, output, error) = Run("replay");

        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.EndsWith("Run 'shaperctl --help' for usage.\n", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Replay_CsvWithJson_PrintsDesignShape()
    {
        // DESIGN.md: {"rules":[{"name","passed","limited","delayed","keys":[{"key","passed","limited","delayed","max_delay_ms"}]}]}
        // burst 2, rate 1/minute: of 3 SYNs at once 2 pass and 1 is limited.
        var rules = _capture.Rule("match = { proto = \"tcp\", dport = [22], syn = true }\nrate = \"1/minute\"\nburst = 2\n");
        var input = _capture.File(
            "events.csv",
            "time,src,dst,proto,sport,dport,len,flags\n"
            + "0.000,198.18.1.1,198.18.0.2,tcp,40000,22,60,S\n0.001,198.18.1.1,198.18.0.2,tcp,40001,22,60,S\n0.002,198.18.1.1,198.18.0.2,tcp,40002,22,60,S\n");

        var (code, output, error) = Run("replay", "--rules", rules, "--json", input);

        Assert.Equal(0, code);
        Assert.Equal("", error);
        Assert.EndsWith("}\n", output, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(output);
        Assert.Equal(["rules"], Names(json.RootElement));
        var rule = Assert.Single(json.RootElement.GetProperty("rules").EnumerateArray().ToArray());
        Assert.Equal(["name", "passed", "limited", "delayed", "keys"], Names(rule));
        var key = Assert.Single(rule.GetProperty("keys").EnumerateArray().ToArray());
        Assert.Equal(["key", "passed", "limited", "delayed", "max_delay_ms"], Names(key));
        Assert.Equal(("198.18.1.1", 2, 1), (key.GetProperty("key").GetString(), key.GetProperty("passed").GetInt32(), key.GetProperty("limited").GetInt32()));
    }

    [Fact]
    public void Replay_CaptureCutInsideAFrame_ReplaysTheWholeFramesAndWarns()
    {
        // A capture that ends part way through its last record (a full disk) is not an error: the whole
        // frames replay, the cut one is counted as truncated, and one warning says so. burst 5: 4 whole packets pass.
        var rules = _capture.Rule("rate = \"1/s\"\nburst = 5\n");
        var whole = _capture.Pcap(At(0, 5));
        var bytes = File.ReadAllBytes(whole);
        var cut = _capture.File("cut.pcap", "");
        File.WriteAllBytes(cut, bytes[..^10]);

        var (code, output, error) = Run("replay", "--rules", rules, "--json", cut);

        Assert.Equal(0, code);
        using var json = JsonDocument.Parse(output);
        var rule = json.RootElement.GetProperty("rules")[0];
        Assert.Equal((4, 0), (rule.GetProperty("passed").GetInt32(), rule.GetProperty("limited").GetInt32()));
        Assert.Equal($"shaperctl: replay: warning: {cut}: the file ends inside frame 5 (", error[..(error.IndexOf('(', StringComparison.Ordinal) + 1)]);
        Assert.EndsWith("the frames before the cut were replayed and the cut one is counted as truncated\n", error, StringComparison.Ordinal);
    }

    private static string[] Names(JsonElement element) => [.. element.EnumerateObject().Select(p => p.Name)];
}
