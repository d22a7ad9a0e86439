using System.Net;
using Shaper.Capture;
using Shaper.Rules;

namespace Shaper.Tests.Capture;

public sealed class BpfFilterTests
{
    [Fact]
    public void Build_ObservedRules_UnionOfTheirMatches()
    {
        Rule[] rules =
        [
            new() { Name = "ssh", Enforce = EnforceKind.Observe, Match = new RuleMatch { Proto = Protocol.Tcp, Dport = [new PortRange(22, 22)], Syn = true } },
            new() { Name = "dns", Enforce = EnforceKind.Observe, Match = new RuleMatch { Proto = Protocol.Udp, Dport = [new PortRange(53, 53), new PortRange(5300, 5399)], Src = [IPNetwork.Parse("198.18.0.0/15")] } },
        ];

        Assert.Equal(
            "(tcp and (dst port 22)) or (udp and (dst port 53 or dst portrange 5300-5399) and (src net 198.18.0.0/15))",
            BpfFilter.Build(rules));
    }

    [Fact]
    public void Build_ObserveRuleMatchingEverything_CapturesAllIp()
    {
        Assert.Equal("ip or ip6", BpfFilter.Build([new Rule { Name = "all", Enforce = EnforceKind.Observe }]));
    }

    [Fact]
    public void Build_NoObservedRules_Empty()
    {
        Assert.Equal("", BpfFilter.Build([]));
    }
}
