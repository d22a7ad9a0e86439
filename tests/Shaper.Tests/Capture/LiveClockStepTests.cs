using Shaper.Capture;
using Shaper.Engine;
using Shaper.Packets;
using Shaper.Rules;

namespace Shaper.Tests.Capture;

/// <summary>
/// Issue 14, item 10: live limiters run on monotonic time, so a step of the wall clock (here 60 s back, as
/// <c>date -s</c> or an NTP step does) changes no decision. The packets go through the capture thread's own path
/// (<see cref="CaptureLane"/>: parse, stamp, decide) with the kernel's wall-clock arrival times, as libpcap gives them.
/// </summary>
public sealed class LiveClockStepTests
{
    private const long Second = 1_000_000_000;

    private const string Rules = """
        [daemon]
        interface = "eth0"

        [[rule]]
        name = "polite"
        match = { proto = "udp", dport = [9000] }
        algorithm = "sliding_window"
        limit = 10
        window = "1s"
        enforce = "observe"
        action = "log"
        """;

    [Fact]
    public async Task CaptureLane_WallClockStepsBack60s_PoliteSourceIsNeverLimited()
    {
        var clock = new SteppingClock();
        using var lane = new CaptureLane(0, NewEngine(), clock);
        var frame = CaptureFrames.Udp(0xC6120105);

        // 2 packets a second for a minute, the clock steps back 60 s, then 2 a second for another minute. The kernel
        // stamps each packet with the wall clock; each packet is its own batch, read 100 µs after it arrived.
        foreach (var (wall, _) in PoliteSource(clock))
        {
            lane.EndBatch();
            lane.Decide(frame, LinkKind.Ethernet, 7, wall);
        }

        var report = (await lane.QueryAsync(engine => engine.Report(MonotonicClock.NowNs(clock)))).Single();
        Assert.Equal(240, report.Passed);
        Assert.Equal(0, report.Limited);
    }

    [Fact]
    public void Engine_FedTheWallClockTimestamps_LimitsThePoliteSource()
    {
        // The same packets with their wall-clock stamps as the packets' time, as the live path did before: the step
        // back makes the polite source look like a flood. This is what the test above guards against.
        var engine = NewEngine();
        foreach (var (wall, _) in PoliteSource(new SteppingClock()))
        {
            engine.Process(new PacketMeta { TimestampNs = wall, Family = IpFamily.V4, Protocol = 17, Source = 0xC6120105, DestinationPort = 9000, IpLength = 46 });
        }

        Assert.True(engine.Report(0).Single().Limited > 0);
    }

    [Fact]
    public void CaptureClock_Stamps_FollowArrivalSpacingAndNeverGoBack()
    {
        var clock = default(CaptureClock);
        clock.Begin(monotonicNs: 1_000 * Second, wallNs: 5_000 * Second);
        Assert.Equal((1_000 * Second) - 3_000_000, clock.Stamp((5_000 * Second) - 3_000_000)); // 3 ms old
        Assert.Equal((1_000 * Second) - 1_000_000, clock.Stamp((5_000 * Second) - 1_000_000)); // 1 ms old

        // The wall clock stepped forward an hour between arrival and the read: the age is capped at MaxAgeNs, and
        // the stamp never goes before the previous one.
        clock.Begin(monotonicNs: 1_001 * Second, wallNs: 8_601 * Second);
        Assert.Equal(1_000 * Second, clock.Stamp(5_001 * Second));

        // Stepped back an hour: a packet from "the future" is taken as arrived at the read.
        clock.Begin(monotonicNs: 1_002 * Second, wallNs: 1_402 * Second);
        Assert.Equal(1_002 * Second, clock.Stamp(5_002 * Second));
    }

    [Fact]
    public void CaptureClock_ReadingsOffByTheirReadGap_KeepTheKernelsSpacingAcrossBatches()
    {
        var clock = default(CaptureClock);
        clock.Begin(monotonicNs: 1_000 * Second, wallNs: 5_000 * Second);
        var first = clock.Stamp((5_000 * Second) - 1_000_000);

        // The next batch's reading of the clocks is 40 µs off (the thread was preempted between the reads): a packet the
        // kernel stamped exactly 1 s after the first is still 1 s after it, within a 256th of the error.
        clock.Begin(monotonicNs: 1_001 * Second, wallNs: (5_001 * Second) + 40_000);
        var second = clock.Stamp((5_001 * Second) - 1_000_000);
        Assert.InRange(second - first, Second - (40_000 / 256), Second + (40_000 / 256));
    }

    [Fact]
    public void CaptureClock_ReadingPreemptedBetweenItsReads_MovesNoStamp()
    {
        var clock = default(CaptureClock);
        clock.Begin(monotonicNs: 1_000 * Second, wallNs: 5_000 * Second, gapNs: 20_000);
        var first = clock.Stamp((5_000 * Second) - 1_000_000);

        // A reading whose two monotonic reads were 6 ms apart is off by up to 3 ms, more than a wall-clock step: taken
        // as one, it would move every stamp of its batch by 3 ms. It only marks the batch; the offset stays.
        clock.Begin(monotonicNs: (1_001 * Second) + 3_000_000, wallNs: 5_001 * Second, gapNs: 6_000_000);
        var second = clock.Stamp((5_001 * Second) - 1_000_000);
        Assert.Equal(Second, second - first);

        // A clean reading of a real step is still taken at once.
        clock.Begin(monotonicNs: 1_002 * Second, wallNs: 9_002 * Second, gapNs: 20_000);
        Assert.Equal(1_002 * Second, clock.Stamp(9_002 * Second));
    }

    private static RuleEngine NewEngine()
    {
        var config = ConfigLoader.Parse(Rules, "shaper.toml").Config!;
        return new RuleEngine(CompiledRuleSet.Compile(config), 1024);
    }

    /// <summary>The polite source's packets (their wall-clock arrival, monotonic arrival), moving <paramref name="clock"/> to 100 µs after each.</summary>
    private static IEnumerable<(long Wall, long Monotonic)> PoliteSource(SteppingClock clock)
    {
        for (var i = 0; i < 240; i++)
        {
            if (i == 120)
            {
                clock.StepWall(-60 * Second);
            }

            clock.Advance(Second / 2);
            var arrival = (clock.WallNs, clock.MonotonicNs);
            clock.Advance(100_000);
            yield return arrival;
        }
    }

    /// <summary>A wall clock that can step, beside a monotonic clock that cannot; both move only when told.</summary>
    private sealed class SteppingClock : TimeProvider
    {
        public long WallNs { get; private set; } = 1_767_225_600 * Second; // 2026-01-01

        public long MonotonicNs { get; private set; } = 42 * Second;

        public override long TimestampFrequency => Second;

        public override DateTimeOffset GetUtcNow() => DateTimeOffset.UnixEpoch.AddTicks(WallNs / 100);

        public override long GetTimestamp() => MonotonicNs;

        public void Advance(long ns)
        {
            WallNs += ns;
            MonotonicNs += ns;
        }

        public void StepWall(long ns) => WallNs += ns;
    }
}
