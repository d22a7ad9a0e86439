using System.Net;
using Shaper.Rules;

namespace Shaper.Tests.Rules;

public sealed class CidrParserTests
{
    private const string Examples = "write an IPv4 or IPv6 address or CIDR, e.g. \"192.0.2.0/24\", \"198.51.100.7\" or \"2001:db8::/32\"";

    public static TheoryData<string, string> Valid => new()
    {
        // Networks.
        { "10.0.0.0/8", "10.0.0.0/8" },
        { "0.0.0.0/0", "0.0.0.0/0" },
        { "2001:db8::/32", "2001:db8::/32" },
        { "::/0", "::/0" },

        // A bare address is one host.
        { "192.0.2.7", "192.0.2.7/32" },
        { "::1", "::1/128" },

        // IPv6 with an embedded IPv4 tail.
        { "::ffff:192.0.2.0/120", "::ffff:192.0.2.0/120" },
    };

    public static TheoryData<string, string, string> Invalid => new()
    {
        // Host bits set: an error with both readings offered, never silently masked.
        { "10.0.0.1/8", "'10.0.0.1/8' has host bits set", "write \"10.0.0.0/8\" for the network or \"10.0.0.1/32\" for the host" },
        { "2001:db8::1/32", "'2001:db8::1/32' has host bits set", "write \"2001:db8::/32\" for the network or \"2001:db8::1/128\" for the host" },

        // Host names are never resolved (nft would try DNS).
        { "example.com", "'example.com' is not an IP address or CIDR", $"host names are never resolved; {Examples}" },
        { "localhost/32", "'localhost/32' is not an IP address or CIDR", $"host names are never resolved; {Examples}" },

        // Forms that IPAddress.TryParse or inet_aton would take.
        { "10.1", "'10.1' is not an IP address or CIDR", Examples },
        { "0x7f.0.0.1", "'0x7f.0.0.1' is not an IP address or CIDR", $"host names are never resolved; {Examples}" },
        { "010.0.0.1", "'010.0.0.1' is not an IP address or CIDR", Examples },
        { "256.0.0.1", "'256.0.0.1' is not an IP address or CIDR", Examples },
        { "fe80::1%eth0", "'fe80::1%eth0' is not an IP address or CIDR", Examples },
        { " 10.0.0.0/8", "' 10.0.0.0/8' is not an IP address or CIDR", Examples },
        { "", "'' is not an IP address or CIDR", Examples },

        // Bad prefixes.
        { "10.0.0.0/33", "'10.0.0.0/33' has a bad prefix length '/33'", "an IPv4 prefix is a whole number from 0 to 32" },
        { "10.0.0.0/", "'10.0.0.0/' has a bad prefix length '/'", "an IPv4 prefix is a whole number from 0 to 32" },
        { "10.0.0.0/08", "'10.0.0.0/08' has a bad prefix length '/08'", "an IPv4 prefix is a whole number from 0 to 32" },
        { "10.0.0.0/-1", "'10.0.0.0/-1' has a bad prefix length '/-1'", "an IPv4 prefix is a whole number from 0 to 32" },
        { "2001:db8::/129", "'2001:db8::/129' has a bad prefix length '/129'", "an IPv6 prefix is a whole number from 0 to 128" },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void TryParse_ValidForm_GivesNetwork(string text, string expected)
    {
        Assert.True(CidrParser.TryParse(text, out var network, out var error), error.Message);

        Assert.Equal(IPNetwork.Parse(expected), network);
    }

    [Theory]
    [MemberData(nameof(Invalid))]
    public void TryParse_InvalidForm_SaysWhatIsWrongAndWhatIsRight(string text, string message, string hint)
    {
        Assert.False(CidrParser.TryParse(text, out _, out var error));

        Assert.Equal(message, error.Message);
        Assert.Equal(hint, error.Hint);
    }

    [Theory]
    [InlineData("10.0.0.0/8", "10.1.0.0/16", true)] // inside
    [InlineData("10.0.0.0/8", "10.0.0.0/8", true)] // the same network
    [InlineData("10.1.0.0/16", "10.0.0.0/8", false)] // wider than the outer one
    [InlineData("10.0.0.0/8", "11.0.0.0/8", false)] // beside it
    [InlineData("::/0", "10.0.0.0/8", false)] // another family
    public void Covers_TwoNetworks_TrueOnlyWhenInnerIsWhollyInside(string outer, string inner, bool expected)
    {
        Assert.Equal(expected, CidrParser.Covers(IPNetwork.Parse(outer), IPNetwork.Parse(inner)));
    }
}
