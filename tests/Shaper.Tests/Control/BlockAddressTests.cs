using System.Net;
using Shaper.Control;

namespace Shaper.Tests.Control;

public sealed class BlockAddressTests
{
    [Theory]
    [InlineData("198.18.0.1", "198.18.0.1/32")] // a host
    [InlineData("198.18.0.0/24", "198.18.0.0/24")] // a network
    [InlineData("10.0.0.0/8", "10.0.0.0/8")] // the widest IPv4 block without --force
    [InlineData("2001:db8::1", "2001:db8::1/128")]
    [InlineData("2001:db8::/32", "2001:db8::/32")] // the widest IPv6 block without --force
    public void TryParse_StrictAddress_IsTheNetwork(string text, string network)
    {
        Assert.True(BlockAddress.TryParse(text, adding: true, force: false, out var parsed, out var error), error);
        Assert.Equal(network, parsed.ToString());
    }

    [Theory]
    [InlineData("10.1", "'10.1' is not an IP address or CIDR")] // inet_aton's short form: not an address here
    [InlineData("0x7f.1", "'0x7f.1' is not an IP address or CIDR")] // hex octets
    [InlineData("4294967295", "'4294967295' is not an IP address or CIDR")] // one 32-bit number
    [InlineData("010.0.0.1", "'010.0.0.1' is not an IP address or CIDR")] // a leading zero (octal to some)
    [InlineData("10.0.0.1/8", "'10.0.0.1/8' has host bits set; write \"10.0.0.0/8\" for the network or \"10.0.0.1/32\" for the host")]
    [InlineData("::ffff:0.0.0.0/96", "'::ffff:0.0.0.0/96' is an IPv4-mapped IPv6 network; write its IPv4 form 0.0.0.0/0")]
    [InlineData("::ffff:198.18.0.1", "'::ffff:198.18.0.1' is an IPv4-mapped IPv6 address; write its IPv4 form 198.18.0.1")]
    [InlineData("::ffff:198.18.0.0/120", "'::ffff:198.18.0.0/120' is an IPv4-mapped IPv6 network; write its IPv4 form 198.18.0.0/24")]
    [InlineData("0.0.0.0/0", "'0.0.0.0/0' is wider than /8 (4,294,967,296 addresses); add --force to block it anyway")]
    [InlineData("10.0.0.0/7", "'10.0.0.0/7' is wider than /8 (33,554,432 addresses); add --force to block it anyway")]
    [InlineData("2001:d00::/24", "'2001:d00::/24' is wider than /32 (2^104 addresses); add --force to block it anyway")]
    [InlineData("", "give an address or CIDR, e.g. 198.18.0.1 or 198.18.0.0/24")]
    public void TryParse_LooseOrTooWide_IsRefusedWithTheReason(string text, string message)
    {
        Assert.False(BlockAddress.TryParse(text, adding: true, force: false, out _, out var error));
        Assert.StartsWith(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_WideWithForce_IsTheNetwork()
    {
        Assert.True(BlockAddress.TryParse("0.0.0.0/0", adding: true, force: true, out var parsed, out var error), error);
        Assert.Equal("0.0.0.0/0", parsed.ToString());
    }

    [Fact]
    public void TryParse_WideForDelete_NeedsNoForce()
    {
        Assert.True(BlockAddress.TryParse("0.0.0.0/0", adding: false, force: false, out _, out var error), error);
    }

    [Fact]
    public void AllowedWithin_BlockInsideAnAllowedNetwork_NamesIt()
    {
        var exempt = BlockAddress.AllowedWithin(IPNetwork.Parse("198.18.0.5/32"), [IPNetwork.Parse("198.18.0.0/24")], out var inside);

        Assert.Empty(exempt);
        Assert.Equal(IPNetwork.Parse("198.18.0.0/24"), inside);
    }

    [Fact]
    public void AllowedWithin_AllowedNetworksInsideTheBlock_AreExempt()
    {
        var allow = new[] { IPNetwork.Parse("198.18.0.1/32"), IPNetwork.Parse("127.0.0.0/8"), IPNetwork.Parse("2001:db8::/64") };

        var exempt = BlockAddress.AllowedWithin(IPNetwork.Parse("198.18.0.0/16"), allow, out var inside);

        Assert.Null(inside);
        Assert.Equal([IPNetwork.Parse("198.18.0.1/32")], exempt);
    }
}
