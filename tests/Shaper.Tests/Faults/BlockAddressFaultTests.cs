using System.Text.Json.Nodes;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Faults;

/// <summary>
/// <c>block add</c> with addresses the configuration would refuse (issue 14, item 9): shaperd in a lab namespace
/// refuses each with the reason and blocks nothing; shaperctl refuses them before it sends; <c>[[allow]]</c> wins.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class BlockAddressFaultTests(ITestOutputHelper output)
{
    [RootTheory]
    [InlineData("10.1", "'10.1' is not an IP address or CIDR")] // was 10.0.0.1
    [InlineData("0x7f.1", "'0x7f.1' is not an IP address or CIDR")] // was 127.0.0.1
    [InlineData("4294967295", "'4294967295' is not an IP address or CIDR")] // was 255.255.255.255
    [InlineData("10.0.0.1/8", "'10.0.0.1/8' has host bits set; write \"10.0.0.0/8\" for the network or \"10.0.0.1/32\" for the host")] // was widened to 10.0.0.0/8
    [InlineData("::ffff:0.0.0.0/96", "'::ffff:0.0.0.0/96' is an IPv4-mapped IPv6 network; write its IPv4 form 0.0.0.0/0")] // was all of IPv4
    [InlineData("0.0.0.0/0", "'0.0.0.0/0' is wider than /8 (4,294,967,296 addresses); add --force to block it anyway")] // was taken as it came
    public async Task BlockAdd_LooseOrTooWideAddress_IsRefusedByTheDaemonAndByShaperctl(string address, string error)
    {
        using var lab = NetworkLab.Create();
        using var daemon = DaemonProcess.Start(lab.B, "");

        var response = await daemon.SendAsync("block.add", new() { ["address"] = address, ["for"] = "1m" });
        var cli = Shaperctl(lab, daemon, "block", "add", address, "--for", "1m");

        Assert.False(response.Ok);
        Assert.StartsWith(error, response.Error, StringComparison.Ordinal);
        Assert.Equal(1, cli.ExitCode);
        Assert.StartsWith("shaperctl: " + error, cli.Error, StringComparison.Ordinal);
        Assert.Empty((await daemon.SendAsync("block.list")).Result!["blocks"]!.AsArray());
        Assert.DoesNotContain("elements", lab.Exec(lab.B, "nft", "list", "table", "inet", "shaper").Output, StringComparison.Ordinal);
    }

    [RootFact]
    public async Task BlockAdd_WideWithForce_IsBlocked()
    {
        using var lab = NetworkLab.Create();
        Tally.Install(lab);
        using var daemon = DaemonProcess.Start(lab.B, "");

        var cli = Shaperctl(lab, daemon, "--json", "block", "add", "0.0.0.0/0", "--for", "1m", "--force");

        Assert.True(cli.ExitCode == 0, cli.Error);
        Assert.Equal("0.0.0.0/0", JsonNode.Parse(cli.Output)!["blocked"]!.GetValue<string>());
        Assert.StartsWith("0.0.0.0/0 ", (await daemon.SendAsync("block.list")).Result!["blocks"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(0, Send(lab, 0xC6120102u).GetValueOrDefault("198.18.1.2"));
    }

    [RootFact]
    public async Task BlockAdd_InsideAnAllowedNetwork_IsRefused()
    {
        using var lab = NetworkLab.Create();
        using var daemon = DaemonProcess.Start(lab.B, "[[allow]]\ncidr = [\"198.18.0.0/24\"]\n");

        var response = await daemon.SendAsync("block.add", new() { ["address"] = "198.18.0.1", ["for"] = "1m" });

        Assert.False(response.Ok);
        Assert.Equal("198.18.0.1/32 is inside [[allow]] 198.18.0.0/24: allowed addresses are never blocked", response.Error);
        Assert.Empty((await daemon.SendAsync("block.list")).Result!["blocks"]!.AsArray());
    }

    /// <summary>A block over an allowed address is taken; the allowed address stays exempt, shown by traffic through the kernel.</summary>
    [RootFact]
    public async Task BlockAdd_CoveringAnAllowedAddress_BlocksTheRestAndTheAllowedOnePasses()
    {
        using var lab = NetworkLab.Create();
        Tally.Install(lab);
        using var daemon = DaemonProcess.Start(lab.B, "[[allow]]\ncidr = [\"198.18.1.1/32\"]\n");

        var response = await daemon.SendAsync("block.add", new() { ["address"] = "198.18.0.0/16", ["for"] = "5m" });
        Assert.True(response.Ok, response.Error);
        Assert.Equal(["198.18.1.1/32"], response.Result!["exempt"]!.AsArray().Select(n => n!.GetValue<string>()));

        // 50 packets each from the allowed 198.18.1.1 and from 198.18.1.2, both inside the block.
        var seen = Send(lab, 0xC6120101u, 0xC6120102u);
        output.WriteLine(string.Join(", ", seen.Select(p => $"{p.Key}: {p.Value}")));
        Assert.Equal(50, seen.GetValueOrDefault("198.18.1.1"));
        Assert.Equal(0, seen.GetValueOrDefault("198.18.1.2"));
    }

    /// <summary>Sends 50 UDP packets from each source to the host under test; returns what its tally counted.</summary>
    private static Dictionary<string, long> Send(NetworkLab lab, params uint[] sources)
    {
        var pcap = Path.Combine(Path.GetTempPath(), $"shaper-block-{Environment.ProcessId}.pcap");
        TrafficPcap.Write(pcap, Enumerable.Range(0, 50).SelectMany(k => sources.Select((source, i) => new TrafficPcap.Udp((k * 1_000_000L) + (i * 100_000L), source, 9000))));
        try
        {
            var sent = lab.Exec(lab.A, "tcpreplay", "-q", "-i", "va", pcap);
            Assert.True(sent.ExitCode == 0, sent.Error);
            return Tally.Read(lab);
        }
        finally
        {
            File.Delete(pcap);
        }
    }

    private static ProcessResult Shaperctl(NetworkLab lab, DaemonProcess daemon, params string[] args) =>
        lab.Exec(lab.B, "dotnet", [Path.Combine(AppContext.BaseDirectory, "shaperctl.dll"), "--socket", daemon.Socket, .. args]);
}
