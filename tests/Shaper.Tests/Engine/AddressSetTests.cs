using System.Net;
using Shaper.Engine;
using Shaper.Packets;

namespace Shaper.Tests.Engine;

public sealed class AddressSetTests
{
    [Theory]
    [InlineData("198.18.0.0/24", "198.18.0.0", true)] // first address of the prefix
    [InlineData("198.18.0.0/24", "198.18.0.255", true)] // last address of the prefix
    [InlineData("198.18.0.0/24", "198.18.1.0", false)] // just past it
    [InlineData("198.18.0.7/24", "198.18.0.9", true)] // host bits in the CIDR are ignored
    [InlineData("0.0.0.0/0", "203.0.113.9", true)] // the default route holds every IPv4 address
    [InlineData("2001:db8::/64", "2001:db8::ffff", true)] // IPv6 inside the /64
    [InlineData("2001:db8::/64", "2001:db8:0:1::", false)] // the next /64
    [InlineData("::ffff:198.18.0.0/120", "198.18.0.5", true)] // an IPv4-mapped CIDR covers the IPv4 addresses
    public void Contains_SingleCidr_MatchesPrefixArithmetic(string cidr, string address, bool expected)
    {
        var set = new AddressSet([IPNetwork.Parse(cidr)]);
        var ip = IPAddress.Parse(address);
        var (family, value) = ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
            ? (IpFamily.V4, (UInt128)AddressSet.ToV4(ip))
            : (IpFamily.V6, AddressSet.ToV6(ip));
        Assert.Equal(expected, set.Contains(family, value));
    }

    [Fact]
    public void Constructor_OverlappingAndAdjacentCidrs_MergeIntoOneInterval()
    {
        var set = new AddressSet([
            IPNetwork.Parse("198.18.0.0/25"),
            IPNetwork.Parse("198.18.0.128/25"),
            IPNetwork.Parse("198.18.0.64/26"),
        ]);

        Assert.Equal(1, set.Count);
    }

    [Fact]
    public void Contains_ThousandsOfRandomCidrs_AgreesWithLinearScan()
    {
        var rng = new Random(7);
        var cidrs = new List<(uint Start, uint End)>();
        var networks = new List<IPNetwork>();
        for (var i = 0; i < 5000; i++)
        {
            var prefix = rng.Next(8, 33);
            var mask = AddressSet.Mask4(prefix);
            var start = (uint)rng.NextInt64(0, 1L << 32) & mask;
            cidrs.Add((start, start | ~mask));
            networks.Add(new IPNetwork(new IPAddress(BitConverter.GetBytes(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(start))), prefix));
        }

        var set = new AddressSet(networks);
        for (var i = 0; i < 20_000; i++)
        {
            // Probe near interval edges half the time, where an off-by-one would show.
            var probe = i % 2 == 0 ? (uint)rng.NextInt64(0, 1L << 32) : cidrs[rng.Next(cidrs.Count)].End + (uint)rng.Next(-1, 2);
            var expected = cidrs.Exists(c => probe >= c.Start && probe <= c.End);
            Assert.Equal(expected, set.Contains(IpFamily.V4, probe));
        }
    }
}
