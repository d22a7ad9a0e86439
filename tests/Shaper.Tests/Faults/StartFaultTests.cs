using System.Diagnostics;
using System.Text.Json.Nodes;
using Shaper.Tests.Lab;

namespace Shaper.Tests.Faults;

/// <summary>
/// Starts that go wrong (issue 14, item 12): a start that failed after the kernel ruleset was applied left the
/// table installed with no daemon behind it, and an interface that was down at boot made the daemon exit.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class StartFaultTests
{
    private const string Rules = """
        [[rule]]
        name = "ssh-new"
        match = { proto = "tcp", dport = [22], syn = true }
        rate = "10/minute"
        burst = 5

        [[rule]]
        name = "udp-flood"
        match = { proto = "udp", dport = [9000] }
        rate = "1/minute"
        burst = 5
        enforce = "observe"
        action = "block"
        block_for = "10m"
        """;

    /// <summary>The control socket cannot be bound (a directory is in its place), which happens after the kernel took the ruleset.</summary>
    [RootFact]
    public void Start_FailingAfterTheKernelRuleset_RemovesItAndExitsWithOneLine()
    {
        using var lab = NetworkLab.Create();
        var directory = Directory.CreateTempSubdirectory("shaper-start-").FullName;
        try
        {
            var socket = Directory.CreateDirectory(Path.Combine(directory, "shaperd.sock")).FullName;
            var config = Path.Combine(directory, "shaper.toml");
            File.WriteAllText(config, $"[daemon]\nsocket = \"{socket}\"\nstate_dir = \"{directory}/state\"\nmetrics = \"\"\ninterface = \"{NetworkLab.ReceiverInterface}\"\n{Rules}");

            var run = lab.Exec(lab.B, "dotnet", Shaperd.Dll, "--config", config);

            Assert.Equal(1, run.ExitCode);
            Assert.Contains("not starting, and the kernel ruleset just applied is removed", run.Output + run.Error, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", run.Output + run.Error, StringComparison.Ordinal); // no stack trace
            Assert.NotEqual(0, lab.Exec(lab.B, "nft", "list", "table", "inet", "shaper").ExitCode);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [RootFact]
    public async Task Start_InterfaceDown_RunsAndCapturesOnceItIsUp()
    {
        using var lab = NetworkLab.Create();
        lab.Exec(lab.B, "ip", "link", "set", "vb", "down").EnsureSuccess("setting vb down");

        using var daemon = DaemonProcess.Start(lab.B, Rules, $"interface = \"{NetworkLab.ReceiverInterface}\"");
        var down = await Status(daemon);
        Assert.NotEqual("running", down["capture_state"]!.GetValue<string>());
        Assert.Contains("ssh-new", lab.Exec(lab.B, "nft", "list", "table", "inet", "shaper").Output, StringComparison.Ordinal);

        lab.Exec(lab.B, "ip", "link", "set", "vb", "up").EnsureSuccess("setting vb up");
        var watch = Stopwatch.StartNew();
        JsonNode status;
        while ((status = await Status(daemon))["capture_state"]!.GetValue<string>() != "running")
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"capture never started: {status.ToJsonString()}\n{daemon.Log}");
            await Task.Delay(100);
        }
    }

    private static async Task<JsonNode> Status(DaemonProcess daemon)
    {
        var status = await daemon.SendAsync("status");
        Assert.True(status.Ok, status.Error);
        return status.Result!;
    }
}
