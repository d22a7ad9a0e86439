using Shaper.Capture;
using Shaper.Packets;

namespace Shaper.Tests.Capture;

public sealed class PacketRingTests
{
    [Fact]
    public void TryWrite_Full_DropsAndCountsInsteadOfGrowing()
    {
        var ring = new PacketRing(4);
        for (var i = 0; i < 10; i++)
        {
            ring.TryWrite(new PacketMeta { TimestampNs = i });
        }

        Assert.Equal(6, ring.Dropped);
        Assert.Equal(4, ring.Count);
        for (var i = 0; i < 4; i++)
        {
            Assert.True(ring.TryRead(out var p));
            Assert.Equal(i, p.TimestampNs); // oldest first; the newest were the ones dropped
        }

        Assert.False(ring.TryRead(out _));
    }

    [Fact]
    public async Task TryReadAndWrite_TwoThreads_DeliverEveryPacketInOrderOrCountItDropped()
    {
        var ring = new PacketRing(256);
        const int total = 2_000_000;
        var producer = Task.Run(() =>
        {
            for (var i = 0; i < total; i++)
            {
                ring.TryWrite(new PacketMeta { TimestampNs = i });
            }
        });

        long received = 0, last = -1;
        var ordered = true;
        while (!producer.IsCompleted || ring.Count > 0)
        {
            while (ring.TryRead(out var p))
            {
                ordered &= p.TimestampNs > last;
                last = p.TimestampNs;
                received++;
            }
        }

        await producer;
        Assert.True(ordered);
        Assert.Equal(total, received + ring.Dropped);
    }

    [Fact]
    public void WaitForPackets_PingPong_NeverSleepsThroughAWrite()
    {
        // A lost wake-up would leave the consumer asleep until its timeout: WaitForPackets returns false.
        using var ring = new PacketRing(16);
        const int rounds = 20_000;
        var timedOut = 0;
        var consumer = new Thread(() =>
        {
            for (var got = 0; got < rounds;)
            {
                if (ring.TryRead(out _))
                {
                    got++;
                    continue;
                }

                if (!ring.WaitForPackets(TimeSpan.FromSeconds(10)))
                {
                    timedOut++;
                }
            }
        });
        consumer.Start();
        for (var i = 0; i < rounds; i++)
        {
            while (ring.Count > 0)
            {
                Thread.SpinWait(10); // one packet in flight: the consumer sleeps between almost every pair
            }

            Assert.True(ring.TryWrite(new PacketMeta { TimestampNs = i }));
        }

        Assert.True(consumer.Join(TimeSpan.FromMinutes(2)));
        Assert.Equal(0, timedOut);
        Assert.Equal(0, ring.Dropped);
    }

    [Fact]
    public void WaitForPackets_PacketAlreadyThere_ReturnsAtOnceWithoutSleeping()
    {
        using var ring = new PacketRing(4);
        ring.TryWrite(default);
        Assert.True(ring.WaitForPackets(TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public void WaitForPackets_WorkQueuedBeforeTheWait_IsNotSleptThrough()
    {
        using var ring = new PacketRing(4);
        var work = true; // queued by another thread, whose Wake came before the consumer slept
        ring.Wake();
        Assert.True(ring.WaitForPackets(TimeSpan.FromMinutes(5), () => work));
    }

    [Fact]
    public void Wake_SleepingConsumer_WakesItBeforeTheTimeout()
    {
        using var ring = new PacketRing(4);
        using var asleep = new ManualResetEventSlim();
        var woken = false;
        var consumer = new Thread(() =>
        {
            asleep.Set();
            woken = ring.WaitForPackets(TimeSpan.FromMinutes(5));
        });
        consumer.Start();
        asleep.Wait();
        while (consumer.ThreadState != ThreadState.WaitSleepJoin)
        {
            Thread.Sleep(1);
        }

        ring.Wake();
        Assert.True(consumer.Join(TimeSpan.FromMinutes(1)));
        Assert.True(woken);
    }

    [Fact]
    public void WaitForPackets_NothingComes_TimesOut()
    {
        using var ring = new PacketRing(4);
        Assert.False(ring.WaitForPackets(TimeSpan.FromMilliseconds(20)));
    }
}
