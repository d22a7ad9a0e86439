using System.Text.Json;
using Shaper.Tests.Lab;

namespace Shaper.Tests.Replay;

/// <summary>
/// Small replay inputs for the replay tests (see README.md beside this file): pcaps of UDP packets at chosen
/// times from chosen sources, written by <see cref="TrafficPcap"/>, rules files, and <c>shaperctl replay --json</c>
/// run in process over them. Every file lives in a temporary directory that goes with the instance.
/// </summary>
internal sealed class ReplayCapture : IDisposable
{
    /// <summary>198.18.1.1.</summary>
    public const uint SourceA = 0xC6120101;

    /// <summary>198.18.1.2.</summary>
    public const uint SourceB = 0xC6120102;

    private readonly string _directory = Directory.CreateTempSubdirectory("shaper-replay-").FullName;
    private int _files;

    /// <summary><paramref name="count"/> packets from <paramref name="source"/> all at <paramref name="seconds"/> (from the capture clock's zero).</summary>
    public static IEnumerable<TrafficPcap.Udp> At(double seconds, int count, uint source = SourceA)
    {
        var ns = (long)Math.Round(seconds * 1_000_000_000);
        for (var i = 0; i < count; i++)
        {
            yield return new TrafficPcap.Udp(ns, source, 9000);
        }
    }

    /// <summary><paramref name="count"/> IPv6 packets from <paramref name="source"/> (a 128-bit address) all at <paramref name="seconds"/>.</summary>
    public static IEnumerable<TrafficPcap.Udp> AtV6(double seconds, int count, UInt128 source)
    {
        var ns = (long)Math.Round(seconds * 1_000_000_000);
        for (var i = 0; i < count; i++)
        {
            yield return new TrafficPcap.Udp(ns, source, 9000, V6: true);
        }
    }

    /// <summary>Writes a nanosecond pcap of Ethernet/IPv4/UDP (or IPv6/UDP) frames, in the order given, and returns its path.</summary>
    public string Pcap(params IEnumerable<TrafficPcap.Udp>[] groups)
    {
        var path = Path.Combine(_directory, $"input{++_files}.pcap");
        TrafficPcap.Write(path, groups.SelectMany(g => g));
        return path;
    }

    /// <summary>Writes <paramref name="text"/> to a file named <paramref name="name"/> and returns its path.</summary>
    public string File(string name, string text)
    {
        var path = Path.Combine(_directory, name);
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    /// <summary>
    /// Writes a rules file holding one rule named <c>r</c> with the given body lines. It names a capture
    /// interface, as a daemon running observe rules would, so that the file loads without warnings.
    /// </summary>
    public string Rule(string body) => File($"rules{++_files}.toml", "[daemon]\ninterface = \"eth0\"\n\n[[rule]]\nname = \"r\"\n" + body);

    /// <summary>Runs <c>shaperctl replay --rules RULES --json INPUT</c> in process.</summary>
    public static (int Code, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter { NewLine = "\n" };
        using var error = new StringWriter { NewLine = "\n" };
        var code = Shaper.Ctl.Program.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>Replays <paramref name="input"/> through <paramref name="rules"/> and returns the only rule's JSON object; the run must succeed.</summary>
    public static JsonElement ReplayOneRule(string rules, string input)
    {
        var (code, output, error) = Run("replay", "--rules", rules, "--json", input);
        Assert.True(code == 0, $"exit {code}: {error}");
        Assert.True(error == "", error);
        using var json = JsonDocument.Parse(output);
        return Assert.Single(json.RootElement.GetProperty("rules").EnumerateArray().ToArray()).Clone();
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
