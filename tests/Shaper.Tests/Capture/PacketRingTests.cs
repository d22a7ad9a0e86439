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
}
