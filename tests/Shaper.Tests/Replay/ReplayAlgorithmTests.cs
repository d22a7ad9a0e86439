using System.Text.Json;
using static Shaper.Tests.Replay.ReplayCapture;

namespace Shaper.Tests.Replay;

/// <summary>
/// Each algorithm replayed from a pcap through <c>shaperctl replay --json</c>, per source key. The expected
/// counts are worked out by hand from the algorithm's definition in the comment above each test.
/// </summary>
public sealed class ReplayAlgorithmTests : IDisposable
{
    private readonly ReplayCapture _capture = new();

    public void Dispose() => _capture.Dispose();

    [Fact]
    public void Replay_TokenBucket_BurstThenRefill()
    {
        // burst 5, rate 1/s, the bucket starts full.
        // A: 10 packets at t=0 → 5 pass (bucket 5 → 0), 5 limited.
        //    3 packets at t=2.5 → 2.5 tokens refilled: 2 pass (2.5 → 0.5), 1 limited.
        // B: 1 packet at t=1 → its own full bucket: 1 pass.
        // Rule: passed 5 + 2 + 1 = 8, limited 5 + 1 = 6.
        var rules = _capture.Rule("algorithm = \"token_bucket\"\nrate = \"1/s\"\nburst = 5\n");
        var input = _capture.Pcap(At(0, 10), At(1, 1, SourceB), At(2.5, 3));

        var rule = ReplayOneRule(rules, input);

        AssertCounts(rule, "r", passed: 8, limited: 6, delayed: 0);
        AssertKey(rule, "198.18.1.1", passed: 7, limited: 6, delayed: 0, maxDelayMs: 0);
        AssertKey(rule, "198.18.1.2", passed: 1, limited: 0, delayed: 0, maxDelayMs: 0);
    }

    [Fact]
    public void Replay_LeakyBucketMeter_LevelLeaksAtRate()
    {
        // burst 3 (the whole bucket), rate 2/s: an arrival passes if level + 1 ≤ 3, raising the level by 1.
        // t=0, 5 packets: level 0 → 1, 2, 3 (3 pass), then 2 limited.
        // t=1, 4 packets: level 3 − 2 × 1 s = 1 → 2, 3 (2 pass), then 2 limited.
        // t=3, 1 packet: level 3 − 2 × 2 s < 0, so 0 → 1: passes.
        // passed 3 + 2 + 1 = 6, limited 2 + 2 = 4.
        var rules = _capture.Rule("algorithm = \"leaky_bucket\"\nenforce = \"observe\"\nrate = \"2/s\"\nburst = 3\n");
        var input = _capture.Pcap(At(0, 5), At(1, 4), At(3, 1));

        var rule = ReplayOneRule(rules, input);

        AssertCounts(rule, "r", passed: 6, limited: 4, delayed: 0);
        AssertKey(rule, "198.18.1.1", passed: 6, limited: 4, delayed: 0, maxDelayMs: 0);
    }

    [Fact]
    public void Replay_LeakyBucketQueue_DelaysUpToQueueThenDrops()
    {
        // rate 2/s: departures 0.5 s apart; queue 2.
        // t=0, 5 packets: the 1st leaves at once (nothing waiting, no departure yet): passed.
        //   2nd waits for the slot at 0.5 s, 3rd for 1.0 s: delayed, the queue now holds 2.
        //   4th and 5th find the queue full: dropped (limited).
        // t=5, 1 packet: the queue emptied at 1.0 s, the last departure was 4 s ago: passes at once.
        // passed 2, delayed 2 (longest wait 1000 ms), limited 2.
        var rules = _capture.Rule("algorithm = \"leaky_bucket\"\nenforce = \"queue\"\nrate = \"2/s\"\nqueue = 2\n");
        var input = _capture.Pcap(At(0, 5), At(5, 1));

        var rule = ReplayOneRule(rules, input);

        AssertCounts(rule, "r", passed: 2, limited: 2, delayed: 2);
        AssertKey(rule, "198.18.1.1", passed: 2, limited: 2, delayed: 2, maxDelayMs: 1000);
    }

    [Fact]
    public void Replay_FixedWindow_DoubleTheLimitAcrossABoundary()
    {
        // limit 3 per 10 s window, windows [0, 10), [10, 20) on the capture clock.
        // t=1, t=2: 2 pass (count 2).
        // t=9.5, 3 packets: 1 passes (count 3), 2 limited.
        // t=10.5, 3 packets: a new window, 3 pass — 4 passes within 9.5..10.5, the boundary weakness.
        // t=10.6: count 3 in [10, 20): limited.
        // passed 2 + 1 + 3 = 6, limited 2 + 1 = 3.
        var rules = _capture.Rule("algorithm = \"fixed_window\"\nenforce = \"observe\"\nlimit = 3\nwindow = \"10s\"\n");
        var input = _capture.Pcap(At(1, 1), At(2, 1), At(9.5, 3), At(10.5, 3), At(10.6, 1));

        var rule = ReplayOneRule(rules, input);

        AssertCounts(rule, "r", passed: 6, limited: 3, delayed: 0);
        AssertKey(rule, "198.18.1.1", passed: 6, limited: 3, delayed: 0, maxDelayMs: 0);
    }

    [Fact]
    public void Replay_SlidingLog_NoBoundaryEffect()
    {
        // limit 3 accepted arrivals in any (now − 10 s, now]; the same traffic as the fixed window, and more.
        // t=1, t=2: pass (log 1, 2).
        // t=9.5, 3 packets: 1 passes (log 1, 2, 9.5), 2 limited.
        // t=10.5, 3 packets: (0.5, 10.5] holds 1, 2, 9.5: all 3 limited. t=10.6: limited.
        // t=11.5: (1.5, 11.5] holds 2, 9.5: passes (log 2, 9.5, 11.5).
        // t=12.5: (2.5, 12.5] holds 9.5, 11.5: passes.
        // passed 2 + 1 + 1 + 1 = 5, limited 2 + 3 + 1 = 6.
        var rules = _capture.Rule("algorithm = \"sliding_log\"\nenforce = \"observe\"\nlimit = 3\nwindow = \"10s\"\n");
        var input = _capture.Pcap(At(1, 1), At(2, 1), At(9.5, 3), At(10.5, 3), At(10.6, 1), At(11.5, 1), At(12.5, 1));

        var rule = ReplayOneRule(rules, input);

        AssertCounts(rule, "r", passed: 5, limited: 6, delayed: 0);
        AssertKey(rule, "198.18.1.1", passed: 5, limited: 6, delayed: 0, maxDelayMs: 0);
    }

    [Fact]
    public void Replay_SlidingWindow_PreviousWindowWeighsByOverlap()
    {
        // limit 4, window 10 s: an arrival passes if current + previous × overlap < 4, and then counts.
        // [0, 10): t=2, 5 packets: estimates 0, 1, 2, 3 pass; the 5th (4) is limited. previous = 4.
        // [10, 20): t=12.5 (25 % in, overlap 0.75): 0 + 3 = 3 passes; then 1 + 3 = 4 limited.
        //   t=17.5 (overlap 0.25): 1 + 1 = 2 passes, 2 + 1 = 3 passes, 3 + 1 = 4 limited.
        // passed 4 + 1 + 2 = 7, limited 1 + 1 + 1 = 3.
        var rules = _capture.Rule("algorithm = \"sliding_window\"\nenforce = \"observe\"\nlimit = 4\nwindow = \"10s\"\n");
        var input = _capture.Pcap(At(2, 5), At(12.5, 2), At(17.5, 3));

        var rule = ReplayOneRule(rules, input);

        AssertCounts(rule, "r", passed: 7, limited: 3, delayed: 0);
        AssertKey(rule, "198.18.1.1", passed: 7, limited: 3, delayed: 0, maxDelayMs: 0);
    }

    [Fact]
    public void Replay_TokenBucketPerSource64_IPv6SourcesInOnePrefixShareABucket()
    {
        // burst 3, rate 1/s, per src/64: 2001:db8::1 and 2001:db8::2 are one key, 2001:db8:0:1::1 another.
        // t=0: ::1 sends 2 and ::2 sends 2 → the shared bucket passes 3, limits 1.
        // t=0.5: 2001:db8:0:1::1 sends 1 → its own full bucket: passes.
        // passed 3 + 1 = 4, limited 1.
        var rules = _capture.Rule("per = \"src/64\"\nrate = \"1/s\"\nburst = 3\n");
        UInt128 prefix = (UInt128)0x20010db8 << 96;
        var input = _capture.Pcap(AtV6(0, 2, prefix | 1), AtV6(0, 2, prefix | 2), AtV6(0.5, 1, prefix | ((UInt128)1 << 64) | 1));

        var rule = ReplayOneRule(rules, input);

        AssertCounts(rule, "r", passed: 4, limited: 1, delayed: 0);
        AssertKey(rule, "2001:db8::/64", passed: 3, limited: 1, delayed: 0, maxDelayMs: 0);
        AssertKey(rule, "2001:db8:0:1::/64", passed: 1, limited: 0, delayed: 0, maxDelayMs: 0);
    }

    [Fact]
    public void Replay_TimestampGoesBackwards_CountsAsNoTimePassing()
    {
        // burst 5, rate 1/s. t=100: 5 packets empty the bucket. Then the capture's clock goes back 60 s (a stepped
        // clock or a merged capture does this): 3 packets at t=40 refill nothing, as no time passed, and are limited.
        // t=101: 1 s after the latest time the key saw, 1 token: 1 of 2 passes.
        // passed 5 + 1 = 6, limited 3 + 1 = 4.
        var rules = _capture.Rule("algorithm = \"token_bucket\"\nrate = \"1/s\"\nburst = 5\n");
        var input = _capture.Pcap(At(100, 5), At(40, 3), At(101, 2));

        var rule = ReplayOneRule(rules, input);

        AssertCounts(rule, "r", passed: 6, limited: 4, delayed: 0);
    }

    private static void AssertCounts(JsonElement rule, string name, long passed, long limited, long delayed)
    {
        Assert.Equal(name, rule.GetProperty("name").GetString());
        Assert.Equal(
            (passed, limited, delayed),
            (rule.GetProperty("passed").GetInt64(), rule.GetProperty("limited").GetInt64(), rule.GetProperty("delayed").GetInt64()));
    }

    private static void AssertKey(JsonElement rule, string key, long passed, long limited, long delayed, long maxDelayMs)
    {
        var entry = Assert.Single(rule.GetProperty("keys").EnumerateArray().ToArray(), k => k.GetProperty("key").GetString() == key);
        Assert.Equal(
            (passed, limited, delayed, maxDelayMs),
            (entry.GetProperty("passed").GetInt64(), entry.GetProperty("limited").GetInt64(), entry.GetProperty("delayed").GetInt64(), entry.GetProperty("max_delay_ms").GetInt64()));
    }
}
