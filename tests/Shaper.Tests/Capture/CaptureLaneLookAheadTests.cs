using Shaper.Capture;
using Shaper.Engine;
using Shaper.Packets;
using Shaper.Rules;

namespace Shaper.Tests.Capture;

/// <summary>
/// A capture lane decides each packet a few packets after parsing it, so that the key table slots of the packets
/// behind it load meanwhile. What it must keep: every packet is decided, in the order it arrived, by the end of its
/// batch, and only a few wait at any moment.
/// </summary>
public sealed class CaptureLaneLookAheadTests
{
    private const long Second = 1_000_000_000;

    // A sliding log depends only on the order and spacing of a key's arrivals, not on where windows fall, so the lane
    // (which stamps packets on the monotonic clock) and an engine fed the wall-clock stamps must agree packet for packet.
    private const string Rules = """
        [daemon]
        interface = "eth0"

        [[rule]]
        name = "log"
        match = { proto = "udp", dport = [9000] }
        algorithm = "sliding_log"
        limit = 2
        window = "100ms"
        enforce = "observe"
        action = "log"
        """;

    [Fact]
    public async Task Decide_ABatchFromManySources_EveryPacketDecidedInArrivalOrderByItsEnd()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UnixEpoch.AddSeconds(1_767_225_600));
        using var lane = new CaptureLane(0, NewEngine(), time);
        var reference = NewEngine();
        // The batch is read now, after all its packets arrived: the first 0.95 s ago (a lane takes a packet's time
        // from at most 1 s before its batch was read).
        var wall = ((time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100) - (950 * 1_000_000L);

        // 13 sources (not a multiple of the look-ahead), a packet every 20 ms each for 0.9 s, interleaved, in one batch.
        const int Sources = 13;
        const int PerSource = 45;
        for (var k = 0; k < PerSource; k++)
        {
            for (var s = 0; s < Sources; s++)
            {
                var arrival = wall + (k * 20_000_000L) + (s * 1_000);
                var frame = CaptureFrames.Udp(0xC6120100u + (uint)s);
                lane.Decide(frame, LinkKind.Ethernet, 7, arrival);
                Assert.True(PacketParser.Parse(frame, LinkKind.Ethernet, out var packet) == ParseResult.Ok);
                packet.TimestampNs = arrival;
                packet.InterfaceIndex = 7;
                reference.Process(packet);
            }
        }

        // Before the batch ends only the last few wait.
        var decidedBefore = lane.Processed;
        Assert.InRange(decidedBefore, (Sources * PerSource) - 8, (Sources * PerSource) - 1);

        lane.EndBatch();
        Assert.Equal(Sources * PerSource, lane.Processed);

        var keys = (await lane.QueryAsync(engine => engine.Report(MonotonicClock.NowNs(time)))).Single().Keys;
        var expected = reference.Report(wall + Second).Single().Keys;
        Assert.Equal(Sources, keys.Count);
        foreach (var key in expected)
        {
            var got = keys.Single(k => k.Key == key.Key);
            Assert.Equal((key.Counters.Passed, key.Counters.Limited), (got.Counters.Passed, got.Counters.Limited));
        }

        // 50 packets a second against 2 per 100 ms: the log passed some in each of its windows and limited the rest.
        Assert.All(keys, k => Assert.True(k.Counters.Passed >= 16 && k.Counters.Limited >= 16, $"{k.Key}: {k.Counters.Passed} passed, {k.Counters.Limited} limited"));
    }

    private static RuleEngine NewEngine()
    {
        var config = ConfigLoader.Parse(Rules, "shaper.toml").Config!;
        return new RuleEngine(CompiledRuleSet.Compile(config), 1024);
    }
}
