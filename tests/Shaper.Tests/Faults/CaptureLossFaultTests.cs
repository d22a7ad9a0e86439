using System.Text.Json.Nodes;
using Shaper.Tests.Lab;

namespace Shaper.Tests.Faults;

/// <summary>
/// Issue 14, item 6: capture used to die silently when its interface was deleted (no log line, status still named
/// the interface, counts froze, nothing was blocked after the interface came back), and a missing interface at start
/// was fatal. Now the loss is logged and shown in status, capture is retried with backoff until the interface
/// returns, and blocking works again; a missing interface at start is waited for.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class CaptureLossFaultTests
{
    private const string BlockRule = """
        [[rule]]
        name = "udp-flood"
        match = { proto = "udp", dport = [9000] }
        rate = "1/minute"
        burst = 5
        enforce = "observe"
        action = "block"
        block_for = "10m"
        """;

    [RootFact]
    public async Task InterfaceDeletedThenRecreated_LossLoggedAndShown_CaptureAndBlockingResume()
    {
        using var lab = NetworkLab.Create();
        using var daemon = DaemonProcess.Start(lab.B, BlockRule, $"interface = \"{NetworkLab.ReceiverInterface}\"");
        Assert.Equal("running", (await Status(daemon))["capture_state"]!.GetValue<string>());

        lab.DeleteLink();
        var lost = await WaitForStatus(daemon, s => s["capture_state"]!.GetValue<string>() == "retrying");
        Assert.Equal(1, lost["capture_losses"]!.GetValue<long>());
        Assert.False(string.IsNullOrEmpty(lost["capture_error"]?.GetValue<string>()), lost.ToJsonString());
        await WaitForLog(daemon, "capture on vb lost:");

        // Retried while the interface is gone, then running again once it is back.
        await WaitForStatus(daemon, s => s["capture_retries"]!.GetValue<int>() >= 1);
        lab.AddLink();
        var resumed = await WaitForStatus(daemon, s => s["capture_state"]!.GetValue<string>() == "running");
        Assert.Null(resumed["capture_error"]);
        await WaitForLog(daemon, "capture on vb running again");

        // A source over its limit on the new interface is blocked in the kernel.
        Send(lab, 0xC6120505u, 10);
        await WaitForStatus(daemon, s => s["blocks"]!.GetValue<int>() >= 1);
        Assert.Contains("198.18.5.5", lab.Exec(lab.B, "nft", "list", "set", "inet", "shaper", "block_v4").Output, StringComparison.Ordinal);
    }

    [RootFact]
    public async Task InterfaceMissingAtStart_DaemonWaitsForIt_ThenCapturesAndBlocks()
    {
        using var lab = NetworkLab.Create();
        lab.DeleteLink();
        using var daemon = DaemonProcess.Start(lab.B, BlockRule, $"interface = \"{NetworkLab.ReceiverInterface}\"");
        var waiting = await Status(daemon);
        Assert.Equal("retrying", waiting["capture_state"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(waiting["capture_error"]?.GetValue<string>()), waiting.ToJsonString());

        lab.AddLink();
        await WaitForStatus(daemon, s => s["capture_state"]!.GetValue<string>() == "running");
        Send(lab, 0xC6120506u, 10);
        await WaitForStatus(daemon, s => s["blocks"]!.GetValue<int>() >= 1);
        Assert.Contains("198.18.5.6", lab.Exec(lab.B, "nft", "list", "set", "inet", "shaper", "block_v4").Output, StringComparison.Ordinal);
    }

    private static void Send(NetworkLab lab, uint source, int count)
    {
        var pcap = Path.Combine(Path.GetTempPath(), $"shaper-capture-loss-{Environment.ProcessId}.pcap");
        TrafficPcap.Write(pcap, Enumerable.Range(0, count).Select(i => new TrafficPcap.Udp(i * 1_000_000L, source, 9000)));
        try
        {
            lab.Exec(lab.A, "tcpreplay", "-q", "-i", "va", pcap).EnsureSuccess("tcpreplay");
        }
        finally
        {
            File.Delete(pcap);
        }
    }

    private static async Task<JsonNode> Status(DaemonProcess daemon) => (await daemon.SendAsync("status")).Result!;

    /// <summary>Waits for <paramref name="line"/> in the daemon's log (written by the logger's own thread); fails after 10 s.</summary>
    private static async Task WaitForLog(DaemonProcess daemon, string line)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!daemon.Log.Contains(line, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"no '{line}' in the log:\n{daemon.Log}");
            await Task.Delay(50);
        }
    }

    /// <summary>Polls status until <paramref name="done"/> holds; fails after 20 s (the backoff's cap is 5 s).</summary>
    private static async Task<JsonNode> WaitForStatus(DaemonProcess daemon, Func<JsonNode, bool> done)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        JsonNode status;
        while (!done(status = await Status(daemon)))
        {
            Assert.True(DateTime.UtcNow < deadline, $"status never got there: {status.ToJsonString()}\n{daemon.Log}");
            await Task.Delay(100);
        }

        return status;
    }
}
