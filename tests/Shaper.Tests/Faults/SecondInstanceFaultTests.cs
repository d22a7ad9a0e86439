using System.Text.RegularExpressions;
using Shaper.Tests.Lab;

namespace Shaper.Tests.Faults;

/// <summary>
/// A second shaperd (issue 14, item 7) used to start silently, adopt the first's table and take its socket, and
/// stopping either removed the other's socket. Now it refuses to start, naming the first, before it touches the
/// kernel or the socket; the first goes on untouched.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class SecondInstanceFaultTests
{
    [RootFact]
    public async Task SecondDaemon_SameConfiguration_RefusesNamingTheFirstAndLeavesItWhole()
    {
        using var lab = NetworkLab.Create();
        using var first = DaemonProcess.Start(lab.B, "");
        Assert.True((await first.SendAsync("block.add", new() { ["address"] = "198.18.7.7", ["for"] = "10m" })).Ok);
        var table = Table(lab);

        var second = lab.Exec(lab.B, "dotnet", Shaperd.Dll, "--config", Path.Combine(first.Directory, "shaper.toml"));

        Assert.Equal(1, second.ExitCode);
        Assert.Contains($"another shaperd (pid {first.Pid}) is running with {first.Directory}/shaperd.lock", second.Error, StringComparison.Ordinal);

        // The first still owns its socket (the file is there and it answers), its table and the block it acknowledged.
        Assert.True(File.Exists(first.Socket));
        var status = await first.SendAsync("status");
        Assert.True(status.Ok, status.Error);
        Assert.Contains("198.18.7.7", (await first.SendAsync("block.list")).Result!["blocks"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(table, Table(lab));
    }

    [RootFact]
    public async Task SecondDaemon_OtherSocketSameNamespace_RefusesNamingTheFirst()
    {
        using var lab = NetworkLab.Create();
        using var first = DaemonProcess.Start(lab.B, "");
        var table = Table(lab);

        var refused = Assert.Throws<InvalidOperationException>(() => DaemonProcess.Start(lab.B, ""));

        Assert.Contains($"another shaperd (pid {first.Pid}) already runs in this network namespace", refused.Message, StringComparison.Ordinal);
        Assert.True((await first.SendAsync("status")).Ok);
        Assert.Equal(table, Table(lab));
    }

    [RootFact]
    public void SecondDaemon_AfterTheFirstStopped_Starts()
    {
        using var lab = NetworkLab.Create();
        var first = DaemonProcess.Start(lab.B, "");
        first.Stop();

        // Both locks went with the first process: a new one starts, in the same directory too.
        var second = lab.Exec(lab.B, "timeout", "-s", "TERM", "8", "dotnet", Shaperd.Dll, "--config", Path.Combine(first.Directory, "shaper.toml"));
        first.Dispose();

        Assert.DoesNotContain("not starting", second.Error, StringComparison.Ordinal);
        Assert.Contains("ready:", second.Output + second.Error, StringComparison.Ordinal);
    }

    /// <summary>The shaper's table without the time each block has left, which moves while the test runs.</summary>
    private static string Table(NetworkLab lab) =>
        Regex.Replace(lab.Exec(lab.B, "nft", "list", "table", "inet", "shaper").Output, @" expires \S+", "");
}
