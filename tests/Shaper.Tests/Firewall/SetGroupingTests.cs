using Shaper.Firewall;

namespace Shaper.Tests.Firewall;

/// <summary>The order a transaction's elements go in: grouped by set, each set's in the order given. No root.</summary>
public sealed class SetGroupingTests
{
    [Fact]
    public void Sort_MixedSets_GroupsByKeyAscendingAndKeepsEachSetsOrder()
    {
        var random = new Random(5348);
        int[] lengths = [32, 24, 16, 8, 128, 64, 48, 0];
        const int Count = 5000;
        var keys = new int[Count + 7]; // longer than count: the tail must stay as it was
        var items = new int[Count + 7];
        for (var i = 0; i < keys.Length; i++)
        {
            var length = lengths[random.Next(lengths.Length)];
            keys[i] = SetGrouping.Key(v4: length <= 32 && random.Next(2) == 0, length);
            items[i] = i;
        }

        var expected = Enumerable.Range(0, Count).Select(i => (keys[i], items[i])).OrderBy(p => p.Item1).ToArray(); // OrderBy is stable
        var tail = keys[Count..].Zip(items[Count..]).ToArray();

        SetGrouping.Sort(keys, items, Count);

        Assert.Equal(expected, Enumerable.Range(0, Count).Select(i => (keys[i], items[i])).ToArray());
        Assert.Equal(tail, keys[Count..].Zip(items[Count..]).ToArray());
    }

    [Fact]
    public void Sort_AlreadyGrouped_LeavesKeysAndItemsAsTheyCame()
    {
        int[] keys = [SetGrouping.Key(true, 24), SetGrouping.Key(true, 32), SetGrouping.Key(true, 32), SetGrouping.Key(false, 128)];
        int[] items = [3, 1, 2, 0]; // not in order themselves: only the keys decide
        int[] before = [.. keys];

        SetGrouping.Sort(keys, items, keys.Length);

        Assert.Equal(before, keys);
        Assert.Equal([3, 1, 2, 0], items);
    }

    [Fact]
    public void Key_EveryFamilyAndLength_IsDistinctAndBelowKeys()
    {
        var keys = Enumerable.Range(0, 33).Select(l => SetGrouping.Key(true, l))
            .Concat(Enumerable.Range(0, 129).Select(l => SetGrouping.Key(false, l)))
            .ToList();

        Assert.Equal(keys.Count, keys.Distinct().Count());
        Assert.All(keys, k => Assert.InRange(k, 0, SetGrouping.Keys - 1));
        Assert.True(SetGrouping.Key(true, 32) < SetGrouping.Key(false, 0)); // IPv4 sets first, as the messages go
    }
}
