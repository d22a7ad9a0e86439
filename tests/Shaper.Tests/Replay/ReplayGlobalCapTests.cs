using System.Text.Json;
using Shaper.Tests.Lab;
using static Shaper.Tests.Replay.ReplayCapture;

namespace Shaper.Tests.Replay;

/// <summary>
/// <c>shaperctl replay</c> under <c>[global]</c>: the same cap as the kernel and the engine (one bucket every rule's
/// matched packets draw from before their own limit) and the same warning for a rule above it.
/// </summary>
public sealed class ReplayGlobalCapTests : IDisposable
{
    private const string Global = "[global]\nrate = \"10/s\"\nburst = 5\n";
    private readonly ReplayCapture _capture = new();

    public void Dispose() => _capture.Dispose();

    [Fact]
    public void Replay_KernelAndObserveRuleUnderOneCap_OverTheCapDroppedBeforeTheirLimitsAndCounted()
    {
        var rules = _capture.File("rules.toml", "[daemon]\ninterface = \"eth0\"\n" + Global + """
            [[rule]]
            name = "k"
            match = { proto = "udp", dport = [9000] }
            rate = "10/s"
            burst = 5
            [[rule]]
            name = "o"
            match = { proto = "udp", dport = [9001] }
            algorithm = "sliding_log"
            limit = 100
            window = "1s"
            enforce = "observe"
            action = "log"
            """);

        // 20 packets at 0 s and 20 at 1 s, alternating between the rules: the full bucket's 5 pass at 0 s, and the
        // bucket, refilled (it holds 5 of the 10 a second brings), lets 5 more pass at 1 s.
        var packets = new List<TrafficPcap.Udp>();
        foreach (var seconds in new[] { 0L, 1L })
        {
            for (var i = 0; i < 20; i++)
            {
                packets.Add(new TrafficPcap.Udp(seconds * 1_000_000_000, SourceA, (ushort)(9000 + (i % 2))));
            }
        }

        var (code, output, error) = Run("replay", "--rules", rules, "--json", _capture.Pcap(packets));

        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        var byName = json.RootElement.GetProperty("rules").EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString()!);
        Assert.Equal(40 - 10, json.RootElement.GetProperty("global_limited").GetInt64());
        Assert.Equal(10, byName["k"].GetProperty("passed").GetInt64() + byName["o"].GetProperty("passed").GetInt64());
        Assert.Equal(0, byName["k"].GetProperty("limited").GetInt64()); // the cap's drops are its own, as c_global_limited
        Assert.Equal(0, byName["o"].GetProperty("limited").GetInt64());
    }

    [Fact]
    public void Replay_RuleAboveTheCap_HeldAtItWithTheValidatorsWarning()
    {
        var rules = _capture.Rule("rate = \"500/s\"\nburst = 100\n");
        File.WriteAllText(rules, Global + File.ReadAllText(rules));

        var (code, output, error) = Run("replay", "--rules", rules, _capture.Pcap(At(0, 20)));

        Assert.Equal(0, code);
        Assert.Contains("warning: rate '500/s' of [[rule]] 'r' is above the [global] rate '10/s'; it is held at '10/s'", error, StringComparison.Ordinal);
        Assert.Contains("warning: burst 100 of [[rule]] 'r' is above the [global] burst 5; it is held at 5", error, StringComparison.Ordinal);
        Assert.Contains("15 over the [global] cap", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Replay_NoGlobal_NoGlobalField()
    {
        var (code, output, error) = Run("replay", "--rules", _capture.Rule("rate = \"1/s\"\nburst = 1\n"), "--json", _capture.Pcap(At(0, 3)));

        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        Assert.False(json.RootElement.TryGetProperty("global_limited", out _));
    }
}
