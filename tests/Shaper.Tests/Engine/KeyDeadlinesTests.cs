using Shaper.Engine;
using Shaper.Packets;
using Shaper.Rules;

namespace Shaper.Tests.Engine;

public sealed class KeyDeadlinesTests
{
    private static HeldKey Host(int i) => new(IpFamily.V4, 0xC612_0000UL + (uint)i, 32, 0, KeyKind.Source);

    [Fact]
    public void SetTryGetRemove_RandomOperations_AgreeWithADictionary()
    {
        // Few distinct keys and two rules, so that sets, overwrites and removals (with the runs they shift back) meet
        // the same slots again and again, through several doublings of the table.
        var random = new Random(7);
        var table = new KeyDeadlines(rules: 2, max: 100_000);
        var reference = new Dictionary<(int, HeldKey), (long, long, long)>();
        for (var step = 0; step < 200_000; step++)
        {
            var rule = random.Next(2);
            var key = random.Next(4) == 0
                ? new HeldKey(IpFamily.V6, (UInt128)random.Next(2_000) << 64 | (uint)random.Next(2), 128, 0, KeyKind.Source)
                : Host(random.Next(4_000));
            switch (random.Next(10))
            {
                case < 5:
                    var span = ((long)step, step + 1_000L, (long)random.Next(100));
                    Assert.True(table.Set(rule, key, span.Item1, span.Item2, step, span.Item3));
                    reference[(rule, key)] = span;
                    break;
                case < 8:
                    table.Remove(rule, key);
                    reference.Remove((rule, key));
                    break;
                default:
                    var found = table.TryGet(rule, key, out var got);
                    Assert.Equal(reference.TryGetValue((rule, key), out var expected), found);
                    Assert.Equal(expected, got);
                    break;
            }

            Assert.Equal(reference.Count, table.Count);
        }

        foreach (var ((rule, key), span) in reference)
        {
            Assert.True(table.TryGet(rule, key, out var got));
            Assert.Equal(span, got);
        }

        Assert.Equal(reference.Count(e => e.Key.Item1 == 0), table.CountOf(0));
        Assert.Equal(reference.Count(e => e.Key.Item1 == 1), table.CountOf(1));
    }

    [Fact]
    public void Set_FullOfMostlyEndedSpans_SweepsExactlyTheEndedOnes()
    {
        // 20,000 spans ending at random times, then a new key when the table is full: the sweep takes out every
        // ended span, in place (runs shift back as it goes), and keeps every other where a lookup still finds it.
        var random = new Random(11);
        var table = new KeyDeadlines(rules: 1, max: 20_000);
        var ends = new long[20_000];
        for (var i = 0; i < ends.Length; i++)
        {
            ends[i] = random.Next(1, 3_000) * 1_000_000L;
            Assert.True(table.Set(0, Host(i), 0, ends[i], 0));
        }

        const long Now = 1_500_000_000;
        Assert.True(table.Set(0, Host(-1), Now, Now + 1, Now));

        var live = ends.Count(end => end > Now);
        Assert.Equal(live + 1, table.Count);
        for (var i = 0; i < ends.Length; i++)
        {
            Assert.Equal(ends[i] > Now, table.TryGet(0, Host(i), out _));
        }
    }

    [Fact]
    public void Set_FullOfLiveSpans_RefusesANewKeyAndKeepsTheOthers()
    {
        var table = new KeyDeadlines(rules: 1, max: 100);
        for (var i = 0; i < 100; i++)
        {
            Assert.True(table.Set(0, Host(i), 0, 10_000_000_000, 0));
        }

        Assert.False(table.Set(0, Host(100), 0, 10_000_000_000, 1_000_000_000));
        Assert.True(table.Set(0, Host(5), 0, 20_000_000_000, 1_000_000_000)); // a key already in is updated
        Assert.Equal(100, table.Count);
        Assert.True(table.TryGet(0, Host(5), out var span));
        Assert.Equal(20_000_000_000, span.UntilNs);
    }

    [Fact]
    public void Set_FullWithEndedSpans_SweepsThemForTheNewKey()
    {
        var table = new KeyDeadlines(rules: 1, max: 100);
        for (var i = 0; i < 100; i++)
        {
            Assert.True(table.Set(0, Host(i), 0, i < 50 ? 1_000 : 10_000_000_000, 0));
        }

        Assert.True(table.Set(0, Host(100), 2_000, 10_000_000_000, 2_000));
        Assert.Equal(51, table.Count);
        Assert.False(table.TryGet(0, Host(0), out _));
        Assert.True(table.TryGet(0, Host(99), out _));
        Assert.True(table.TryGet(0, Host(100), out _));
    }

    [Fact]
    public void CopyRule_OneRuleOfAnother_CopiesItsSpansOnly()
    {
        var from = new KeyDeadlines(rules: 2, max: 1_000);
        for (var i = 0; i < 300; i++)
        {
            from.Set(i % 2, Host(i), i, i + 1_000, i);
        }

        var to = new KeyDeadlines(rules: 1, max: 1_000);
        to.CopyRule(from, fromRule: 1, toRule: 0);

        Assert.Equal(150, to.Count);
        Assert.True(to.TryGet(0, Host(7), out var span));
        Assert.Equal((7L, 1_007L, 7L), span);
        Assert.False(to.TryGet(0, Host(8), out _));
    }
}
