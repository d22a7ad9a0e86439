using System.Net;
using Shaper.Firewall;

namespace Shaper.Tests.Firewall;

/// <summary>
/// Blocks packed as bytes, the form a restore reads from the store and sends to the kernel: the key and set of
/// each must be the ones the networks themselves give, and the list view must give the networks back. No root.
/// </summary>
public sealed class PackedBlocksTests
{
    private static readonly string[] Networks =
    [
        "198.18.7.5/32", "198.18.7.0/24", "198.18.0.0/16", "0.0.0.0/0",
        "2001:db8::7/128", "2001:db8:5::/48", "::/0",
        "::ffff:198.18.7.5/128", "::ffff:198.18.7.0/120", "::ffff:0.0.0.0/96", // IPv4-mapped
        "::1/128", "::ffff:0:1:0/112", // not mapped: ::ffff:0:1:0 has its ffff in bytes 8 and 9
    ];

    [Fact]
    public void KeyAndSet_EachNetwork_AreWhatTheNetworkGives()
    {
        var packed = new PackedBlocks(1);
        foreach (var cidr in Networks)
        {
            packed.Add(IPNetwork.Parse(cidr), TimeSpan.FromSeconds(1));
        }

        Assert.Equal(Networks.Length, packed.Count);
        Span<byte> key = stackalloc byte[16];
        for (var i = 0; i < Networks.Length; i++)
        {
            var network = IPNetwork.Parse(Networks[i]);
            var address = network.BaseAddress.IsIPv4MappedToIPv6 ? network.BaseAddress.MapToIPv4() : network.BaseAddress;
            Assert.Equal(address.GetAddressBytes(), key[..NftBlockSets.WriteKey(network, key)].ToArray());
            Assert.Equal(address.GetAddressBytes(), packed.Key(i).ToArray());
            Assert.Equal(NftBlockSets.SetOf(network, "drop"), packed.SetOf(i, "drop"));
            Assert.Equal(network.BaseAddress.IsIPv4MappedToIPv6 || network.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork, packed.SetOf(i).V4);
        }
    }

    [Fact]
    public void List_GivesBackEachNetworkAndItsTimeToLive()
    {
        var blocks = Networks.Select((cidr, i) => (IPNetwork.Parse(cidr), TimeSpan.FromTicks(1 + (i * 10_000_019L)))).ToList();
        var packed = PackedBlocks.Of(blocks);

        Assert.Equal(blocks, packed.ToList());
        Assert.Equal(blocks[3], packed[3]);
        Assert.Same(packed, PackedBlocks.Of(packed));
        Assert.Throws<ArgumentOutOfRangeException>(() => packed[packed.Count]);
    }

    [Fact]
    public void AddBytes_AsTheStoreReadsThem_IsTheNetworkOfThoseBytes()
    {
        var packed = new PackedBlocks(2);
        packed.Add(new byte[] { 198, 18, 7, 0 }, 24, TimeSpan.FromMinutes(5));
        packed.Add(IPAddress.Parse("2001:db8::9").GetAddressBytes(), 128, TimeSpan.FromHours(1));

        Assert.Equal((IPNetwork.Parse("198.18.7.0/24"), TimeSpan.FromMinutes(5)), packed[0]);
        Assert.Equal((IPNetwork.Parse("2001:db8::9/128"), TimeSpan.FromHours(1)), packed[1]);
        Assert.Equal(TimeSpan.FromHours(1), packed.Ttl(1));
    }

    [Theory]
    [InlineData(3, 8)]
    [InlineData(4, 33)]
    [InlineData(16, 129)]
    [InlineData(4, -1)]
    public void AddBytes_NoAddressOrPrefix_IsRefused(int length, int prefix) =>
        Assert.Throws<ArgumentException>(() => new PackedBlocks(1).Add(new byte[length], prefix, TimeSpan.FromSeconds(1)));

    [Fact]
    public void CopyFrom_KeepsItsBlocksWhenTheListIsReused()
    {
        var packed = new PackedBlocks(2);
        packed.Add(IPNetwork.Parse("198.18.1.1/32"), TimeSpan.FromSeconds(1));
        packed.Add(IPNetwork.Parse("2001:db8::/32"), TimeSpan.FromSeconds(2));
        var copy = new PackedBlocks(0); // grows to take them
        copy.Add(IPNetwork.Parse("198.18.9.9/32"), TimeSpan.FromSeconds(9)); // and drops what it held
        copy.CopyFrom(packed);

        packed.Clear();
        packed.Add(IPNetwork.Parse("198.18.2.2/32"), TimeSpan.FromSeconds(3));

        Assert.Equal([(IPNetwork.Parse("198.18.1.1/32"), TimeSpan.FromSeconds(1)), (IPNetwork.Parse("2001:db8::/32"), TimeSpan.FromSeconds(2))], copy.ToList());
        Assert.Equal([(IPNetwork.Parse("198.18.2.2/32"), TimeSpan.FromSeconds(3))], packed.ToList());
    }

    [Fact]
    public void PrefixSets_EachPrefixSetOnce_NoHostSet()
    {
        var packed = PackedBlocks.Of(Networks.Select(cidr => (IPNetwork.Parse(cidr), TimeSpan.FromSeconds(1))).ToList());

        var expected = Networks.Select(cidr => NftBlockSets.SetOf(IPNetwork.Parse(cidr))).Where(set => !set.IsHosts).Distinct();
        Assert.Equal(expected.OrderBy(set => set.Name), packed.PrefixSets().OrderBy(set => set.Name));
    }
}
