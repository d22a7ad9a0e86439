using System.Text.Json;
using static Shaper.Tests.Replay.ReplayCapture;

namespace Shaper.Tests.Replay;

/// <summary>
/// <c>match.iface</c> in replay: a CSV's <c>iface</c> column says where each packet arrived, and a rule held to an
/// interface sees only those packets; an input that names no interface (a capture file, a CSV without the column)
/// matches no such rule, and replay says so on stderr.
/// </summary>
public sealed class ReplayInterfaceTests : IDisposable
{
    private const string Rules = """
        [daemon]
        interface = "eth0"

        [[rule]]
        name = "on-eth1"
        match = { proto = "udp", iface = "eth1" }
        algorithm = "fixed_window"
        limit = 2
        window = "10s"
        enforce = "observe"
        action = "log"

        [[rule]]
        name = "on-any-eth"
        match = { proto = "udp", iface = "eth*" }
        algorithm = "fixed_window"
        limit = 100
        window = "10s"
        enforce = "observe"
        action = "log"
        """;

    private readonly ReplayCapture _capture = new();

    public void Dispose() => _capture.Dispose();

    [Fact]
    public void Replay_CsvIfaceColumn_RuleSeesOnlyItsInterfacesPackets()
    {
        var csv = _capture.File("events.csv", """
            time,src,dport,iface
            0.0,198.18.1.1,9000,eth1
            0.1,198.18.1.1,9000,eth1
            0.2,198.18.1.1,9000,eth1
            0.3,198.18.1.2,9000,eth0
            0.4,198.18.1.3,9000,lo
            0.5,198.18.1.4,9000,
            """);

        var (code, output, error) = Run("replay", "--rules", _capture.File("rules.toml", Rules), "--json", csv);

        Assert.True(code == 0, error);
        Assert.Equal("", error);
        using var json = JsonDocument.Parse(output);
        var rules = json.RootElement.GetProperty("rules").EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString()!);
        Assert.Equal(2, rules["on-eth1"].GetProperty("passed").GetInt64());
        Assert.Equal(1, rules["on-eth1"].GetProperty("limited").GetInt64());
        Assert.Equal("198.18.1.1", Assert.Single(rules["on-eth1"].GetProperty("keys").EnumerateArray()).GetProperty("key").GetString());
        Assert.Equal(4, rules["on-any-eth"].GetProperty("passed").GetInt64()); // eth1 three times and eth0; not lo, not the row with none
    }

    [Fact]
    public void Replay_CaptureFileWithIfaceRule_MatchesNoneAndWarnsOnce()
    {
        var (code, output, error) = Run("replay", "--rules", _capture.File("rules.toml", Rules), "--json", _capture.Pcap(At(0, 5)));

        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        Assert.All(json.RootElement.GetProperty("rules").EnumerateArray(), r => Assert.Equal(0, r.GetProperty("passed").GetInt64() + r.GetProperty("limited").GetInt64()));
        Assert.Contains("names no interface for its packets, so rule 'on-eth1' (match.iface = \"eth1\") matched none of them", error, StringComparison.Ordinal);
        Assert.Equal(2, error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length); // one line per such rule
    }

    [Theory]
    [InlineData("an-interface-name-too-long")]
    [InlineData("eth 0")]
    [InlineData("a/b")]
    public void Replay_BadIface_OneLineNamingTheRow(string iface)
    {
        var csv = _capture.File("events.csv", $"time,src,iface\n0.0,198.18.1.1,{iface}\n");

        var (code, _, error) = Run("replay", "--rules", _capture.File("rules.toml", Rules), csv);

        Assert.Equal(1, code);
        Assert.Equal($"shaperctl: replay: {csv}:2: iface '{iface}' is not an interface name (at most 15 characters, no spaces or '/')\n", error);
    }
}
