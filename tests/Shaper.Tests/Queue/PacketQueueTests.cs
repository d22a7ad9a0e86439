using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Shaper.Engine;
using Shaper.Queue;
using Shaper.Replay;
using Shaper.Tests.Rules;

namespace Shaper.Tests.Queue;

/// <summary>The queue's decisions with no kernel: arrival times in, verdicts and departure slots out.</summary>
public sealed class PacketQueueTests
{
    private const long Second = 1_000_000_000;

    private static Shaper.Rules.Rule QueueRule(string rate, int queue, string extra = "") => ConfigText.Load(
        $"[[rule]]\nname = \"q\"\nmatch = {{ proto = \"udp\" }}\nalgorithm = \"leaky_bucket\"\nrate = \"{rate}\"\nqueue = {queue}\nenforce = \"queue\"\n{extra}").Config!.Rules[0];

    /// <summary>An IPv4/UDP header from 198.18.1.<paramref name="host"/> to 198.18.0.2:9000.</summary>
    private static byte[] Udp(int host)
    {
        var packet = new byte[28];
        packet[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), 28);
        packet[8] = 64;
        packet[9] = 17;
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(12), 0xC6120100u + (uint)host);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(16), 0xC6120002u);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(20), 40000);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(22), 9000);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(24), 8);
        return packet;
    }

    [Fact]
    public void Arrive_TenAtOnceRateOneQueueFive_OnePassesFiveHeldFourDropped()
    {
        // The nginx limit_req example: rate 1/s, burst (queue) 5, 10 arrivals at t = 0.
        var queue = new PacketQueue(QueueRule("1/s", 5), 1024, new HeldBudget(100));
        var verdicts = Enumerable.Range(0, 10).Select(i => queue.Arrive((uint)i, Udp(1), 0)).ToList();

        Assert.Equal([QueueVerdict.AcceptNow, .. Enumerable.Repeat(QueueVerdict.Hold, 5), .. Enumerable.Repeat(QueueVerdict.Drop, 4)], verdicts);
        Assert.Equal((1, 4, 5), (queue.Passed, queue.Dropped, queue.Held));
    }

    [Fact]
    public void TryRelease_HeldPackets_LeaveOneAtEachSlotInArrivalOrder()
    {
        var queue = new PacketQueue(QueueRule("1/s", 5), 1024, new HeldBudget(100));
        for (var i = 0; i < 6; i++)
        {
            queue.Arrive((uint)i, Udp(1), 0);
        }

        // Slots at 1, 2, 3, 4, 5 s: nothing just before each, exactly one at it.
        var released = new List<uint>();
        for (var slot = 1; slot <= 5; slot++)
        {
            Assert.False(queue.TryRelease((slot * Second) - 1, all: false, out _));
            Assert.True(queue.TryRelease(slot * Second, all: false, out var id));
            Assert.False(queue.TryRelease(slot * Second, all: false, out _));
            released.Add(id);
        }

        Assert.Equal([1u, 2, 3, 4, 5], released);
        Assert.Equal(5 * Second, queue.Delays.MaxNs);
    }

    [Fact]
    public void TryRelease_LateRelease_EverythingDueLeavesAtOnceAndLaterSlotsKeepTheirTimes()
    {
        // A worker that wakes 2.5 s late releases the two packets due by then at once (the catch-up), and the
        // third still leaves at 3 s: lateness does not push the schedule back, so the key is not under-delivered.
        var queue = new PacketQueue(QueueRule("1/s", 5), 1024, new HeldBudget(100));
        for (var i = 0; i < 4; i++)
        {
            queue.Arrive((uint)i, Udp(1), 0);
        }

        Assert.True(queue.TryRelease(2_500_000_000, all: false, out var first));
        Assert.True(queue.TryRelease(2_500_000_000, all: false, out var second));
        Assert.False(queue.TryRelease(2_500_000_000, all: false, out _));
        Assert.True(queue.TryRelease(3 * Second, all: false, out var third));
        Assert.Equal([1u, 2, 3], new[] { first, second, third });
    }

    [Fact]
    public void Arrive_MaxHeldReached_DropsAndCountsAtTheCapNotTheFifo()
    {
        // Two keys share a budget of 3: the fourth packet either key would hold is dropped at the cap.
        var budget = new HeldBudget(3);
        var queue = new PacketQueue(QueueRule("1/s", 5), 1024, budget);
        queue.Arrive(0, Udp(1), 0);
        queue.Arrive(1, Udp(2), 0);
        var verdicts = new[] { queue.Arrive(2, Udp(1), 0), queue.Arrive(3, Udp(2), 0), queue.Arrive(4, Udp(1), 0), queue.Arrive(5, Udp(2), 0) };

        Assert.Equal([QueueVerdict.Hold, QueueVerdict.Hold, QueueVerdict.Hold, QueueVerdict.Drop], verdicts);
        Assert.Equal((1, 0, 3), (queue.DroppedAtCap, queue.Dropped, budget.Held));
        Assert.True(queue.TryRelease(long.MaxValue, all: true, out _));
        Assert.Equal(2, budget.Held);
    }

    [Fact]
    public void Arrive_SoftRule_AcceptsEverythingAndStillCounts()
    {
        var queue = new PacketQueue(QueueRule("1/s", 1, "mode = \"soft\"\n"), 1024, new HeldBudget(100));
        var verdicts = Enumerable.Range(0, 5).Select(i => queue.Arrive((uint)i, Udp(1), 0)).ToList();

        Assert.All(verdicts, v => Assert.Equal(QueueVerdict.AcceptNow, v));
        var key = Assert.Single(queue.Keys(0));
        Assert.Equal((1u, 1u, 3u), (key.Counters.Passed, key.Counters.Delayed, key.Counters.Limited));
    }

    [Fact]
    public void Arrive_NotIp_AcceptedAtOnceAndCountedUnparsed()
    {
        var queue = new PacketQueue(QueueRule("1/s", 1), 1024, new HeldBudget(100));
        Assert.Equal(QueueVerdict.AcceptNow, queue.Arrive(0, [0x00, 0x01], 0));
        Assert.Equal(1, queue.Unparsed);
    }

    [Fact]
    public void Arrive_SameArrivalsAsReplay_EveryKeyCountsWhatReplayPredicts()
    {
        // Five sources, 400 arrivals at random times on a 1 ms grid: the daemon's queue and shaperctl replay (the
        // CSV input) count the same passed, delayed and dropped per key, because both run LeakyQueueLimiter.
        var rng = new Random(12);
        var arrivals = Enumerable.Range(0, 400).Select(_ => (Ms: rng.Next(0, 4000), Host: rng.Next(1, 6))).OrderBy(a => a.Ms).ToList();
        var toml = "[[rule]]\nname = \"q\"\nmatch = { proto = \"udp\" }\nalgorithm = \"leaky_bucket\"\nrate = \"20/s\"\nqueue = 4\nenforce = \"queue\"\n";
        var config = ConfigText.Load(toml).Config!;
        var csv = new StringBuilder("time,src,dst,proto,sport,dport\n");
        foreach (var (ms, host) in arrivals)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{ms / 1000.0:F3},198.18.1.{host},198.18.0.2,udp,40000,9000\n");
        }

        using var source = new CsvReplaySource(new StringReader(csv.ToString()), "arrivals.csv");
        var replay = ReplayRunner.Run(CompiledRuleSet.Compile(config), source, TimeProvider.System);

        var queue = new PacketQueue(config.Rules[0], 1024, new HeldBudget(1000));
        var id = 0u;
        foreach (var (ms, host) in arrivals)
        {
            queue.TryRelease(ms * 1_000_000L, all: false, out _);
            queue.Arrive(id++, Udp(host), ms * 1_000_000L);
        }

        static string Row(KeyReport k) => $"{k.Key} {k.Counters.Passed}/{k.Counters.Delayed}/{k.Counters.Limited}";
        var predicted = replay.Rules[0].Keys.Select(Row).Order(StringComparer.Ordinal).ToList();
        var decided = queue.Keys(4_000_000_000).Select(Row).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(5, predicted.Count);
        Assert.Equal(predicted, decided);
        Assert.True(queue.Dropped > 0 && queue.Held + queue.Delayed > 0, "the arrivals exercise holds and drops");
    }
    [Fact]
    public void Arrive_SameArrivalsAsReplayWithMaxHeld_ReplayDropsAtTheCapAsTheDaemonsQueueDoes()
    {
        // Five sources, 600 arrivals at random times on a 1 ms grid, and at most 6 packets held over every key: the
        // daemon's queue (its shared budget, each packet let go at its slot) and shaperctl replay (which counts the
        // departures due by each arrival) drop the same packets at the cap, and so count the same per key and rule.
        var rng = new Random(7);
        var arrivals = Enumerable.Range(0, 600).Select(_ => (Ms: rng.Next(0, 3000), Host: rng.Next(1, 6))).OrderBy(a => a.Ms).ToList();
        var toml = "[daemon]\nmax_held = 6\n[[rule]]\nname = \"q\"\nmatch = { proto = \"udp\" }\nalgorithm = \"leaky_bucket\"\nrate = \"20/s\"\nqueue = 4\nenforce = \"queue\"\n";
        var config = ConfigText.Load(toml).Config!;
        var csv = new StringBuilder("time,src,dst,proto,sport,dport\n");
        foreach (var (ms, host) in arrivals)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{ms / 1000.0:F3},198.18.1.{host},198.18.0.2,udp,40000,9000\n");
        }

        using var source = new CsvReplaySource(new StringReader(csv.ToString()), "arrivals.csv");
        var replay = ReplayRunner.Run(CompiledRuleSet.Compile(config), source, TimeProvider.System).Rules[0];

        var queue = new PacketQueue(config.Rules[0], 1024, new HeldBudget(config.Daemon.MaxHeld));
        var id = 0u;
        foreach (var (ms, host) in arrivals)
        {
            while (queue.TryRelease(ms * 1_000_000L, all: false, out _))
            {
            }

            queue.Arrive(id++, Udp(host), ms * 1_000_000L);
        }

        Assert.True(queue.DroppedAtCap > 0, "the arrivals reach the cap");
        Assert.Equal(queue.DroppedAtCap, replay.DroppedMaxHeld);
        Assert.Equal((queue.Passed, queue.Dropped + queue.DroppedAtCap, queue.Delayed + queue.Held), (replay.Passed, replay.Limited, replay.Delayed));
        static string Row(KeyReport k) => $"{k.Key} {k.Counters.Passed}/{k.Counters.Delayed}/{k.Counters.Limited}";
        Assert.Equal(replay.Keys.Select(Row).Order(StringComparer.Ordinal), queue.Keys(3_000_000_000).Select(Row).Order(StringComparer.Ordinal));
    }
}
