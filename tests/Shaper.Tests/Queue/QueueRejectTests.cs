using System.Globalization;
using System.Text.Json.Nodes;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Queue;

/// <summary>
/// A queue rule with <c>action = "reject"</c>, against the real kernel in a namespace lab: a packet its full FIFO
/// refuses is answered (here, UDP: ICMP port unreachable) instead of dropped in silence.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class QueueRejectTests(ITestOutputHelper output)
{
    /// <summary>A count of the ICMP destination-unreachable messages the sender's namespace receives.</summary>
    private const string UnreachableCounter = """
        table inet unreachable {
            counter seen { }
            chain input {
                type filter hook input priority 0; policy accept;
                icmp type destination-unreachable counter name "seen"
            }
        }
        """;

    [RootFact]
    public async Task Reject_FullFifo_EachRefusedPacketAnsweredWithPortUnreachable()
    {
        using var lab = NetworkLab.Create();
        // The receiver answers every refused packet: the kernel's ICMP rate limit (6 at once, then one a second per
        // destination) would otherwise hide the count. In the lab's namespace only.
        lab.Exec(lab.B, "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0").EnsureSuccess("lifting the ICMP rate limit in the lab");
        Run.Command("ip", ["netns", "exec", lab.A, "nft", "-f", "-"], UnreachableCounter).EnsureSuccess("counting unreachables in the sender's namespace");
        var sources = lab.AddSenderAddresses(1);
        using var daemon = DaemonProcess.Start(lab.B, QueueAccuracyTests.RuleText(20, 5) + "\naction = \"reject\"\n");
        using var probe = UdpProbe.Open(lab, sources);

        // 200 packets in 1 s at a rate of 20/s and a FIFO of 5: most are refused.
        probe.Send(200, TimeSpan.FromSeconds(1));
        var arrivals = probe.Finish(quiet: TimeSpan.FromSeconds(1), max: TimeSpan.FromSeconds(5));
        var rule = (await daemon.SendAsync("counters")).Result!["rules"]!.AsArray().Single(r => (string)r!["name"]! == "udp-queue")!;
        var refused = (long)rule["limited"]!;
        var json = lab.Exec(lab.A, "nft", "-j", "list", "counter", "inet", "unreachable", "seen").EnsureSuccess("reading the unreachable count").Output;
        var answered = JsonNode.Parse(json)!["nftables"]!.AsArray().Select(n => n?["counter"]?["packets"]).Single(p => p is not null)!.GetValue<long>();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"sent {probe.Sent[0]}, received {arrivals.Count}, refused by the queue {refused}, port unreachables at the sender {answered}; counters {rule.ToJsonString()}"));

        Assert.True(refused > 100, $"the queue refused {refused} of {probe.Sent[0]}");
        Assert.Equal(refused, answered);
        Assert.Equal(probe.Sent[0], arrivals.Count + refused);
    }
}
