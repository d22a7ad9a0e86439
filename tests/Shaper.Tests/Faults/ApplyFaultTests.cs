using System.Text.Json.Nodes;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Faults;

/// <summary>
/// <c>shaperctl rules apply</c> as one transaction (issue 11, item 8): a file naming an interface that does not exist
/// answered "failed" while its kernel rates were already live, capture was off and <c>reloads_failed</c> stayed 0.
/// A failed apply must leave the kernel rules, the capture and the engine as they were, count itself and say why in status.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class ApplyFaultTests(ITestOutputHelper output)
{
    private const string Rules = """
        [[rule]]
        name = "udp-kern"
        match = { proto = "udp", dport = [9001] }
        rate = "10/s"
        burst = 5

        [[rule]]
        name = "udp-seen"
        match = { proto = "udp", dport = [9000] }
        algorithm = "sliding_log"
        limit = 100000
        window = "1s"
        enforce = "observe"
        action = "drop"
        """;

    [RootTheory]
    [InlineData("nope0", false)] // not there at all: refused before anything is touched
    [InlineData("vd0", true)] // there but down: the new capture does not open, the old one is put back
    public async Task Apply_InterfaceThatCannotCapture_KeepsKernelCaptureAndEngineAndCountsTheFailure(string iface, bool create)
    {
        using var lab = NetworkLab.Create();
        if (create)
        {
            lab.Exec(lab.B, "ip", "link", "add", iface, "type", "veth", "peer", "name", iface + "p").EnsureSuccess("adding a veth pair, left down");
        }

        using var daemon = DaemonProcess.Start(lab.B, Rules, $"interface = \"{NetworkLab.ReceiverInterface}\"");
        var pcap = Path.Combine(Path.GetTempPath(), $"shaper-apply-{Environment.ProcessId}-{iface}.pcap");
        try
        {
            // 50 packets to the observed port (far under its limit: nothing goes into a kernel set, the ruleset listing stays still).
            TrafficPcap.Write(pcap, Enumerable.Range(0, 50).Select(k => new TrafficPcap.Udp(k * 1_000_000L, 0xC6121400u, 9000)));
            Send(lab, pcap);
            var before = await WaitForEngineAsync(daemon, 50);
            var ruleset = Ruleset(lab);
            Assert.Contains("10/second", ruleset, StringComparison.Ordinal);

            // The same file with a new kernel rate and an interface that cannot be captured on.
            var file = File.ReadAllText(Path.Combine(daemon.Directory, "shaper.toml"));
            var changed = file.Replace($"interface = \"{NetworkLab.ReceiverInterface}\"", $"interface = \"{iface}\"", StringComparison.Ordinal)
                .Replace("rate = \"10/s\"", "rate = \"20/s\"", StringComparison.Ordinal);
            var apply = await daemon.SendAsync("rules.apply", new JsonObject { ["text"] = changed });
            output.WriteLine($"apply: ok {apply.Ok}, {apply.Error}");

            Assert.False(apply.Ok);
            Assert.Contains(iface, apply.Error, StringComparison.Ordinal);
            Assert.Equal(ruleset, Ruleset(lab)); // the old rate, every object as it was
            var status = (await daemon.SendAsync("status")).Result!;
            output.WriteLine(status.ToJsonString());
            Assert.Equal(before["reloads_failed"]!.GetValue<long>() + 1, status["reloads_failed"]!.GetValue<long>());
            Assert.Equal(0, status["reloads_ok"]!.GetValue<long>());
            Assert.StartsWith("shaperctl rules apply: ", status["last_reload_error"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Contains(iface, status["last_reload_error"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.NotNull(status["last_reload_error_at"]!.GetValue<string>());
            Assert.Equal(NetworkLab.ReceiverInterface, status["capture"]!.GetValue<string>());
            Assert.Equal("running", status["capture_state"]!.GetValue<string>());

            // Capture and the engine still count what arrives on the old interface.
            Send(lab, pcap);
            var after = await WaitForEngineAsync(daemon, before["engine_packets"]!.GetValue<long>() + 50);
            if (!create)
            {
                Assert.True(after["captured"]!.GetValue<long>() >= before["captured"]!.GetValue<long>() + 50, after.ToJsonString()); // the same capture, untouched
            }

            // The same file on the old interface applies, and its rate reaches the kernel: the refusal above was not a no-op by nature.
            var good = file.Replace("rate = \"10/s\"", "rate = \"20/s\"", StringComparison.Ordinal);
            var applied = await daemon.SendAsync("rules.apply", new JsonObject { ["text"] = good });
            Assert.True(applied.Ok, applied.Error);
            Assert.NotEqual(ruleset, Ruleset(lab));
            Assert.Contains("20/second", Ruleset(lab), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(pcap);
        }
    }

    private static void Send(NetworkLab lab, string pcap)
    {
        var sent = lab.Exec(lab.A, "tcpreplay", "-q", "-i", "va", pcap);
        Assert.True(sent.ExitCode == 0, sent.Error);
    }

    private static string Ruleset(NetworkLab lab) => lab.Exec(lab.B, "nft", "list", "ruleset").EnsureSuccess("listing the ruleset").Output;

    /// <summary>Status once the engine has decided at least <paramref name="packets"/> packets (bounded: 20 s).</summary>
    private static async Task<JsonNode> WaitForEngineAsync(DaemonProcess daemon, long packets)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var status = (await daemon.SendAsync("status")).Result!;
            if (status["engine_packets"]!.GetValue<long>() >= packets || DateTime.UtcNow > deadline)
            {
                Assert.True(status["engine_packets"]!.GetValue<long>() >= packets, $"the engine decided {status["engine_packets"]} of {packets}: {daemon.Log}");
                return status;
            }

            await Task.Delay(50);
        }
    }
}
