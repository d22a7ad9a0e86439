using System.Net;
using Shaper.Limiting;

namespace Shaper.Tests.Limiting;

public sealed class LimiterTableTests
{
    private const long Second = 1_000_000_000;

    private static LimiterTable<V4Key, TokenBucketState, TokenBucketLimiter> Table(int capacity, long burst = 2) =>
        new(new TokenBucketLimiter(Rate.PerSecondOf(1), burst), capacity);

    [Fact]
    public void Acquire_TwoKeys_KeepSeparateBuckets()
    {
        var table = Table(16);
        Assert.True(table.Acquire(new V4Key(1), 0, 1).IsAccepted);
        Assert.True(table.Acquire(new V4Key(1), 0, 1).IsAccepted);
        Assert.False(table.Acquire(new V4Key(1), 0, 1).IsAccepted);
        Assert.True(table.Acquire(new V4Key(2), 0, 1).IsAccepted);
        Assert.Equal(2, table.Count);
    }

    [Fact]
    public void Prefetch_KnownAndUnknownKeys_ChangesNothing()
    {
        // A hint for the cache only: no key is added, no bucket moves.
        var table = Table(16);
        Assert.True(table.Acquire(new V4Key(1), 0, 1).IsAccepted);
        for (uint key = 0; key < 100; key++)
        {
            table.Prefetch(new V4Key(key));
        }

        Assert.Equal(1, table.Count);
        Assert.False(table.Contains(new V4Key(2)));
        Assert.True(table.Acquire(new V4Key(1), 0, 1).IsAccepted);
        Assert.False(table.Acquire(new V4Key(1), 0, 1).IsAccepted);
    }

    [Fact]
    public void Acquire_TenTimesCapacityOfKeys_NeverHoldsMoreAndCountsEvictions()
    {
        var table = Table(1000);
        var memory = table.MemoryBytes;
        for (uint i = 0; i < 10_000; i++)
        {
            table.Acquire(new V4Key(0xC6120000 + i), i, 1);
            Assert.True(table.Count <= table.Capacity);
        }

        Assert.Equal(1000, table.Count);
        Assert.Equal(9000, table.Evictions);
        Assert.Equal(memory, table.MemoryBytes);
    }

    [Fact]
    public void Acquire_FullTable_EvictsAnIdleKeyBeforeTheLeastRecentlySeen()
    {
        // 16 keys fill a table of 16, so every eviction's sample sees all of them.
        var table = Table(16, burst: 1000);
        for (uint i = 0; i < 16; i++)
        {
            table.Acquire(new V4Key(i), i, 1); // busy keys; key 0 the least recently seen
        }

        table.Acquire(new V4Key(7), 100, 0); // a key seen last and taking nothing: still full, idle
        Assert.True(table.TryGetStatus(new V4Key(7), 100, 1, out _));
        table.Remove(new V4Key(7));
        table.Acquire(new V4Key(7), 100, 0);

        table.Acquire(new V4Key(999), 101, 1);

        Assert.False(table.Contains(new V4Key(7)));
        Assert.True(table.Contains(new V4Key(0)));
        Assert.Equal(1, table.Evictions);
    }

    [Fact]
    public void Acquire_FullTableNoIdleKey_EvictsTheLeastRecentlySeenOfTheSample()
    {
        var table = Table(16, burst: 100);
        for (uint i = 0; i < 16; i++)
        {
            table.Acquire(new V4Key(i), i * Second / 1000, 1); // key i last seen at i ms: key 0 is the oldest
        }

        var before = Enumerable.Range(0, 16).Select(i => new V4Key((uint)i)).ToList();
        table.Acquire(new V4Key(999), Second / 10, 1);

        // The table is small enough that the sample of 16 covers every key: the oldest (key 0) goes.
        Assert.False(table.Contains(new V4Key(0)));
        Assert.All(before.Skip(1), k => Assert.True(table.Contains(k)));
    }

    [Fact]
    public void Remove_RandomInsertsAndRemoves_AgreeWithADictionary()
    {
        var table = Table(4096);
        var model = new HashSet<uint>();
        var rng = new Random(3);
        for (var step = 0; step < 200_000; step++)
        {
            var key = (uint)rng.Next(6000);
            if (rng.Next(3) == 0)
            {
                Assert.Equal(model.Remove(key), table.Remove(new V4Key(key)));
            }
            else if (model.Count < 4096 || model.Contains(key))
            {
                table.Acquire(new V4Key(key), step, 0);
                model.Add(key);
            }
        }

        Assert.Equal(model.Count, table.Count);
        for (uint key = 0; key < 6000; key++)
        {
            Assert.Equal(model.Contains(key), table.Contains(new V4Key(key)));
        }
    }

    [Fact]
    public void Acquire_IPv6KeysAndPrefixes_AreDistinctKeys()
    {
        var table = new LimiterTable<V6Key, TokenBucketState, TokenBucketLimiter>(new TokenBucketLimiter(Rate.PerSecondOf(1), 1), 64);
        var a = V6Key.From(IPAddress.Parse("2001:db8::1"));
        var b = V6Key.From(IPAddress.Parse("2001:db8::2"));
        Assert.True(table.Acquire(a, 0, 1).IsAccepted);
        Assert.False(table.Acquire(a, 0, 1).IsAccepted);
        Assert.True(table.Acquire(b, 0, 1).IsAccepted);
        Assert.True(table.Acquire(a with { Port = 22 }, 0, 1).IsAccepted); // address and port is another key
        Assert.Equal("2001:db8::1", a.ToString());
    }

    [Fact]
    public void TryGetStatus_TrackedKey_GivesRemainingLimitAndRetryAfter()
    {
        var table = Table(16, burst: 2);
        table.Acquire(new V4Key(1), 0, 1);
        table.Acquire(new V4Key(1), 0, 1);
        Assert.True(table.TryGetStatus(new V4Key(1), Second / 4, 1, out var status));
        Assert.Equal(new RateLimitStatus(0, 2, (3 * Second) / 4), status);
        Assert.False(table.TryGetStatus(new V4Key(2), 0, 1, out _));
    }

    [Fact]
    public void Evict_SlidingLogKeys_ReturnTheirRingsToTheArena()
    {
        var limiter = new SlidingLogLimiter(10, TimeSpan.FromSeconds(1), maxKeys: 100);
        var table = new LimiterTable<V4Key, SlidingLogState, SlidingLogLimiter>(limiter, 100);
        for (uint i = 0; i < 100_000; i++)
        {
            // Every new key must find a ring: if evictions leaked rings, new keys would fail open and pass for ever.
            var key = new V4Key(i);
            for (var n = 0; n < 10; n++)
            {
                Assert.True(table.Acquire(key, i * Second, 1).IsAccepted);
            }

            Assert.False(table.Acquire(key, i * Second, 1).IsAccepted);
        }

        Assert.Equal(100, limiter.RingsInUse);
    }

    [Fact]
    public void TryCopyTo_LargerTable_KeepsEveryKeyAndItsState()
    {
        var small = Table(100, burst: 3);
        for (uint i = 0; i < 100; i++)
        {
            small.Acquire(new V4Key(i), 0, i % 4);
        }

        var large = Table(400, burst: 3);
        Assert.True(small.TryCopyTo(large));
        Assert.Equal(100, large.Count);
        for (uint i = 0; i < 100; i++)
        {
            Assert.True(small.TryGetStatus(new V4Key(i), 0, 1, out var expected));
            Assert.True(large.TryGetStatus(new V4Key(i), 0, 1, out var actual));
            Assert.Equal(expected, actual);
        }
    }
}
