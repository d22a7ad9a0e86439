using System.Net;
using Shaper.Firewall;

namespace Shaper.Tests.Firewall;

/// <summary>Block sets by family and prefix length: names, parsing back, and the nft text that fills them. No root.</summary>
public sealed class BlockSetTests
{
    [Theory]
    [InlineData("198.18.7.5/32", "block_v4")] // a host
    [InlineData("198.18.7.0/24", "block_v4_p24")]
    [InlineData("198.18.0.0/16", "block_v4_p16")] // overlaps the /24, in a set of its own
    [InlineData("::ffff:198.18.7.0/120", "block_v4_p24")] // IPv4-mapped: an IPv4 prefix
    [InlineData("2001:db8::7/128", "block_v6")]
    [InlineData("2001:db8:5::/48", "block_v6_p48")]
    public void SetOf_Network_IsTheSetOfItsFamilyAndPrefixLength(string cidr, string set)
    {
        var name = NftBlockSets.SetNameOf(IPNetwork.Parse(cidr));
        Assert.Equal(set, name);
        Assert.Equal(name, BlockSet.Parse(name)!.Value.Name);
    }

    [Theory]
    [InlineData("block_v4_p32")] // a host length written as a prefix
    [InlineData("block_v5")]
    [InlineData("block_v4_")]
    [InlineData("block_v4_px")]
    [InlineData("blocks_v4")]
    [InlineData("m_web_v4")]
    public void Parse_NotABlockSetName_IsNull(string name) => Assert.Null(BlockSet.Parse(name));

    [Fact]
    public void Rule_PrefixSet_MasksTheSourceToItsLength() =>
        Assert.Equal("ip saddr & 255.255.255.0 @block_v4_p24 drop", NftBlockSets.Rule(new BlockSet(true, 24)));

    [Fact]
    public void AddElements_MillisecondTimeouts_RoundedUpAndBlocksOfNoTimeLeftOut()
    {
        var script = NftBlockSets.AddElements([
            (IPNetwork.Parse("198.18.7.0/24"), TimeSpan.FromMinutes(10)),
            (IPNetwork.Parse("198.18.0.0/16"), TimeSpan.FromTicks(1)), // 100 ns: 1 ms
            (IPNetwork.Parse("198.18.9.9/32"), TimeSpan.Zero), // nothing
        ]);

        Assert.Equal(
            "add element inet shaper block_v4_p24 { 198.18.7.0 timeout 600000ms }\nadd element inet shaper block_v4_p16 { 198.18.0.0 timeout 1ms }\n",
            script);
    }

    // The kernel's resizable hash reads only the low 16 bits of a declared size as its first table's size: sizes of
    // 65,536 and more keep the capacity asked for and get all 16 bits set (the largest first table); smaller ones stay.
    [Theory]
    [InlineData(1, 1)]
    [InlineData(4096, 4096)]
    [InlineData(65_535, 65_535)]
    [InlineData(65_536, 131_071)]
    [InlineData(262_144, 327_679)]
    [InlineData(1_048_576, 1_114_111)] // the block sets' size: 0x100000 declared as 0x10FFFF
    [InlineData(1_000_000, 1_048_575)]
    public void Declared_AtLeastTheCapacityWithTheLargestInitialSizeHint(int capacity, int declared)
    {
        Assert.Equal(declared, NftSetSize.Declared(capacity));
        Assert.True(declared >= capacity);
        Assert.True(capacity < 65_536 || (declared & 0xFFFF) == 0xFFFF);
    }

    [Fact]
    public void Definition_HostSetsDeclareTheHintedSize_PrefixAndHoldSetsTheirCapacity()
    {
        Assert.Equal("{ type ipv6_addr; size 1114111; flags timeout; }", NftBlockSets.Definition(new BlockSet(false, 128)));
        Assert.Equal("{ type ipv4_addr; size 1114111; flags timeout; }", NftBlockSets.Definition(new BlockSet(true, 32)));
        Assert.Equal("{ type ipv4_addr; size 1048576; flags timeout; }", NftBlockSets.Definition(new BlockSet(true, 24)));
        Assert.Equal("{ type ipv4_addr; size 262144; flags timeout; }", NftHoldSets.Definition(new BlockSet(true, 32, "drop_r"), 262_144));
    }
}
