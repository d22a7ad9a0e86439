using Shaper.Engine;
using Shaper.Packets;
using Shaper.Rules;

namespace Shaper.Tests.Engine;

public sealed class HeldKeyTests
{
    private static readonly HeldKey Key = new(IpFamily.V6, ((UInt128)0x2001_0db8_0000_0001UL << 64) | 0x0000_0000_0000_0007UL, 128, 80, KeyKind.SourceAndDport);

    public static TheoryData<HeldKey> EachFieldChanged() =>
    [
        Key with { Family = IpFamily.V4 },
        Key with { Address = Key.Address ^ 1 }, // low half
        Key with { Address = Key.Address ^ ((UInt128)1 << 64) }, // high half
        Key with { PrefixLength = 64 },
        Key with { Port = 81 },
        Key with { Kind = KeyKind.Source },
    ];

    [Fact]
    public void Equals_SameFields_EqualWithTheSameHash()
    {
        var copy = new HeldKey(Key.Family, Key.Address, Key.PrefixLength, Key.Port, Key.Kind);

        Assert.True(Key.Equals(copy));
        Assert.True(Key == copy);
        Assert.True(Key.Equals((object)copy));
        Assert.Equal(Key.GetHashCode(), copy.GetHashCode());
    }

    [Theory]
    [MemberData(nameof(EachFieldChanged))]
    public void Equals_OneFieldDifferent_NotEqual(HeldKey other)
    {
        Assert.False(Key.Equals(other));
        Assert.True(Key != other);
    }

    [Fact]
    public void GetHashCode_AHostPerAddressOrPerHalf_AlmostAllDistinct()
    {
        // Keys an attacker could pick: consecutive hosts, and IPv6 addresses whose halves differ in the same bits
        // (a hash that folded the halves together with a plain XOR would give these 65,536 one value).
        var hashes = new HashSet<int>();
        for (var i = 0UL; i < 65_536; i++)
        {
            hashes.Add(new HeldKey(IpFamily.V4, 0xC612_0000UL + i, 32, 0, KeyKind.Source).GetHashCode());
            hashes.Add(new HeldKey(IpFamily.V6, (UInt128)i << 64 | i, 128, 0, KeyKind.Source).GetHashCode());
        }

        // 131,072 keys into 2^32 values: a handful of chance collisions at most.
        Assert.True(hashes.Count >= 131_072 - 16, $"{131_072 - hashes.Count} collisions");
    }
}
