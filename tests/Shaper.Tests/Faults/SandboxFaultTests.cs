using Shaper.Firewall;
using Shaper.Tests.Daemon;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Faults;

/// <summary>
/// The start-up probe and the daemon under the shipped unit's privileges (issue 14, item 11): exactly the unit's
/// capabilities (CAP_NET_ADMIN and CAP_NET_RAW) and no new privileges, read from systemd/shaperd.service. The probe
/// used to need a throwaway namespace, which those privileges cannot make: every feature read as missing and
/// <c>backend = "auto"</c> could never fall back to iptables.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class SandboxFaultTests(ITestOutputHelper output)
{
    private const string KernelRule = "[[rule]]\nname = \"ssh-new\"\nmatch = { proto = \"tcp\", dport = [22], syn = true }\nrate = \"10/minute\"\nburst = 5\n";

    [RootTheory]
    [InlineData(true, "backend auto: usable, enforcing with nftables")] // nft there: the probe finds it without a namespace
    [InlineData(false, "backend auto: usable, enforcing with iptables")] // no nft: auto falls back
    public void Check_WithTheUnitsPrivileges_FindsTheBackendsAndLeavesNothing(bool withNft, string backend)
    {
        using var lab = NetworkLab.Create();
        var directory = Directory.CreateTempSubdirectory("shaper-sandbox-").FullName;
        try
        {
            var config = Path.Combine(directory, "shaper.toml");
            File.WriteAllText(config, "[daemon]\nbackend = \"auto\"\n");
            var before = CheckCommandTests.Ruleset(lab, withNft);

            var (code, stdout) = CheckCommandTests.Check(lab, config, withNft ? null : UnitSandbox.ToolsWithoutNft(directory), UnitSandbox.Wrapper());
            output.WriteLine(stdout);

            var works = withNft
                ? new[] { FeatureProbe.Nft, FeatureProbe.NftMeters, FeatureProbe.NftReject, FeatureProbe.Iptables, FeatureProbe.Hashlimit, FeatureProbe.IptablesReject, FeatureProbe.Nfqueue }
                : [FeatureProbe.Iptables, FeatureProbe.Hashlimit, FeatureProbe.IptablesReject, FeatureProbe.Nfqueue];
            foreach (var feature in works)
            {
                Assert.Matches($"(?m)^{feature} +works ", stdout);
            }

            Assert.Equal(backend, stdout.TrimEnd('\n').Split('\n')[^1]);
            Assert.Equal(0, code);
            Assert.Equal(before, CheckCommandTests.Ruleset(lab, withNft));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    // A start restores the stored blocks with the reading on its own thread at nice 5 (the sending goes ahead), and lowers
    // it only when it can raise it back. With the unit's capabilities alone (setpriv applies no LimitNICE, and this
    // process's RLIMIT_NICE allows no lowering) it cannot, so it is not lowered; as root it is, and comes back. Either way
    // the thread that ran the start, the daemon's main thread, ends at its own nice value, 0.
    [RootTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Start_RestoringBlocks_LeavesItsThreadAtItsOwnNice(bool sandboxed)
    {
        using var lab = NetworkLab.Create();
        var directory = Directory.CreateTempSubdirectory("shaper-nice-").FullName;
        try
        {
            string[] blocked = ["198.18.9.1", "198.18.9.2", "198.18.9.3"];
            using (var first = DaemonProcess.Start(lab.B, KernelRule, directory: directory))
            {
                foreach (var address in blocked)
                {
                    var reply = await first.SendAsync("block.add", new() { ["address"] = address, ["for"] = "1h" });
                    Assert.True(reply.Ok, reply.Error);
                }
            }

            using var daemon = DaemonProcess.Start(lab.B, KernelRule, wrapper: sandboxed ? UnitSandbox.Wrapper() : null, directory: directory);
            var status = (await daemon.SendAsync("status")).Result!;
            output.WriteLine(daemon.Log);
            Assert.Equal(blocked.Length, status["blocks"]!.GetValue<long>());
            Assert.Contains($"kernel: {blocked.Length} blocks installed in", daemon.Log, StringComparison.Ordinal);
            Assert.Equal(0, Nice(daemon.Pid));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>A thread's nice value (/proc/PID/stat field 19); the process's id is its main thread's.</summary>
    private static int Nice(int tid) => int.Parse(ProcStat.Fields($"/proc/{tid}/stat")[16], System.Globalization.CultureInfo.InvariantCulture);

    [RootTheory]
    [InlineData(true, "nftables")] // auto takes nftables
    [InlineData(false, "iptables")] // auto falls back to iptables
    public async Task Daemon_WithTheUnitsPrivileges_StartsOnTheBackendAutoFinds(bool withNft, string backend)
    {
        using var lab = NetworkLab.Create();
        var tools = Directory.CreateTempSubdirectory("shaper-sandbox-").FullName;
        try
        {
            using var daemon = DaemonProcess.Start(lab.B, KernelRule, "backend = \"auto\"", UnitSandbox.Wrapper(), withNft ? null : UnitSandbox.ToolsWithoutNft(tools));

            var status = await daemon.SendAsync("status");
            Assert.True(status.Ok, status.Error);
            Assert.StartsWith(backend, status.Result!["backend"]!.GetValue<string>(), StringComparison.Ordinal);
            var installed = withNft
                ? lab.Exec(lab.B, "nft", "list", "table", "inet", "shaper").Output
                : lab.Exec(lab.B, "iptables-save").Output;
            Assert.Contains("ssh-new", installed, StringComparison.Ordinal);

            // Blocks work under the same privileges.
            var block = await daemon.SendAsync("block.add", new() { ["address"] = "198.18.9.9", ["for"] = "1m" });
            Assert.True(block.Ok, block.Error + daemon.Log);
        }
        finally
        {
            Directory.Delete(tools, recursive: true);
        }
    }
}
