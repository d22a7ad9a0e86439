using System.Net;
using Shaper.Engine;
using Shaper.Packets;
using Shaper.Rules;

namespace Shaper.Tests.Engine;

public sealed class RuleMatcherTests
{
    private static PacketMeta Tcp(uint src, ushort dport, TcpFlags flags) => new()
    {
        Family = IpFamily.V4,
        Protocol = 6,
        Source = src,
        Destination = 0xC6120002,
        SourcePort = 40000,
        DestinationPort = dport,
        TcpFlags = flags,
        IpLength = 60,
    };

    [Theory]
    [InlineData(22, TcpFlags.Syn, true)] // a new connection to ssh
    [InlineData(22, TcpFlags.Syn | TcpFlags.Ack, false)] // SYN-ACK is not a new connection
    [InlineData(22, TcpFlags.Ack, false)] // established traffic
    [InlineData(80, TcpFlags.Syn, false)] // another port
    public void Matches_SshSynRule_OnlyNewConnectionsToPort22(ushort dport, TcpFlags flags, bool expected)
    {
        var matcher = new RuleMatcher(new RuleMatch { Proto = Protocol.Tcp, Dport = [new PortRange(22, 22)], Syn = true });
        Assert.Equal(expected, matcher.Matches(Tcp(0xC6120101, dport, flags)));
    }

    [Fact]
    public void Matches_ProtocolAndSourceCidr_BothMustHold()
    {
        var matcher = new RuleMatcher(new RuleMatch { Proto = Protocol.Tcp, Src = [IPNetwork.Parse("198.18.1.0/24")] });
        Assert.True(matcher.Matches(Tcp(0xC6120101, 80, TcpFlags.Ack)));
        Assert.False(matcher.Matches(Tcp(0xC6120201, 80, TcpFlags.Ack)));
        var udp = Tcp(0xC6120101, 80, TcpFlags.None);
        udp.Protocol = 17;
        Assert.False(matcher.Matches(udp));
    }

    [Fact]
    public void Matches_PortRuleOnLaterFragment_DoesNotMatchBecauseThereAreNoPorts()
    {
        var matcher = new RuleMatcher(new RuleMatch { Dport = [new PortRange(0, 65535)] });
        var fragment = Tcp(0xC6120101, 0, TcpFlags.None);
        fragment.IsLaterFragment = true;
        Assert.False(matcher.Matches(fragment));
    }
}
