using System.Text.RegularExpressions;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Faults;

/// <summary>
/// Issue 14, item 3: someone else changes the shaper's table (a flushed chain or set, a deleted element, a changed
/// rule, a deleted table, a flushed ruleset); shaperd notices, repairs within 2 s, and counts the repair by kind.
/// Each test prints the time from the tampering to the repaired state: the figures of the reconciler.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed partial class ReconcilerFaultTests(ITestOutputHelper output)
{
    private const string KernelRule = """
        [[rule]]
        name = "web"
        match = { proto = "tcp", dport = [80] }
        rate = "100/s"
        burst = 50
        """;

    private static readonly string[] Hosts = ["198.18.9.9", "198.18.9.10", "198.18.9.11"];

    [RootTheory]
    [InlineData("flush chain inet shaper input", "chain")] // every rule gone: nothing limited, nothing blocked
    [InlineData("flush set inet shaper block_v4", "set_flushed")] // every host block gone
    [InlineData("delete element inet shaper block_v4 { 198.18.9.10 }", "element")] // one block gone
    [InlineData("delete element inet shaper block_v4_p24 { 198.18.7.0 }", "element")] // one prefix block gone
    [InlineData("CHANGE-RULE", "rule")] // the host block rule turned into an accept
    [InlineData("delete table inet shaper", "table")]
    [InlineData("flush ruleset", "table")]
    public async Task Tamper_RepairedWithinTwoSecondsAndCountedByKind(string tamper, string kind)
    {
        using var lab = NetworkLab.Create();
        var probe = KernelProbe.Install(lab);
        using var daemon = DaemonProcess.Start(lab.B, KernelRule);
        foreach (var host in Hosts)
        {
            Assert.True((await daemon.SendAsync("block.add", new() { ["address"] = host, ["for"] = "10m" })).Ok);
        }

        Assert.True((await daemon.SendAsync("block.add", new() { ["address"] = "198.18.7.0/24", ["for"] = "10m" })).Ok);
        var chain = probe.Chain("input");
        Assert.Contains("ip saddr @block_v4 drop", chain, StringComparison.Ordinal);

        if (tamper == "CHANGE-RULE")
        {
            var handle = BlockRuleHandle().Match(lab.Exec(lab.B, "nft", "-a", "list", "chain", "inet", "shaper", "input").Output).Groups[1].Value;
            tamper = $"replace rule inet shaper input handle {handle} ip saddr @block_v4 accept";
        }

        probe.Nft(tamper);
        var repaired = KernelProbe.Until(
            () => probe.Chain("input") == chain
                && probe.Elements("block_v4").Count == Hosts.Length
                && probe.Elements("block_v4_p24").ContainsKey("198.18.7.0"),
            TimeSpan.FromSeconds(2));
        output.WriteLine($"{tamper}: repaired after {repaired?.TotalMilliseconds:F0} ms (kind {kind})");
        Assert.True(repaired is not null, $"not repaired within 2 s; chain now:\n{probe.Chain("input")}\nlog:\n{daemon.Log}");

        if (tamper == "flush ruleset")
        {
            probe.Reinstall();
        }

        Assert.Equal(0, probe.Through("198.18.9.10"));
        Assert.Equal(0, probe.Through("198.18.7.5"));
        var status = (await daemon.SendAsync("status")).Result!;
        output.WriteLine(status["kernel_repairs_by_kind"]!.ToJsonString());
        Assert.True(status["kernel_repairs_by_kind"]![kind]!.GetValue<long>() >= 1, $"no {kind} repair counted: {status.ToJsonString()}");
        Assert.Contains("repaired in", daemon.Log, StringComparison.Ordinal);
    }

    // The daemon's own changes are not tampering: blocks added and removed, a reload, count no repair.
    [RootFact]
    public async Task OwnChanges_BlocksAndReload_CountNoRepair()
    {
        using var lab = NetworkLab.Create();
        using var daemon = DaemonProcess.Start(lab.B, KernelRule);
        for (var i = 1; i <= 20; i++)
        {
            Assert.True((await daemon.SendAsync("block.add", new() { ["address"] = $"198.18.30.{i}", ["for"] = "10m" })).Ok);
        }

        Assert.True((await daemon.SendAsync("block.add", new() { ["address"] = "198.18.31.0/24", ["for"] = "10m" })).Ok);
        Assert.True((await daemon.SendAsync("block.del", new() { ["address"] = "198.18.30.3" })).Ok);
        Assert.True((await daemon.SendAsync("reload")).Ok);
        await Task.Delay(1000); // four looks of the reconciler

        var status = (await daemon.SendAsync("status")).Result!;
        Assert.Equal(0, status["kernel_repairs"]!.GetValue<long>());
    }

    [GeneratedRegex(@"ip saddr @block_v4 drop # handle (\d+)")]
    private static partial Regex BlockRuleHandle();
}
