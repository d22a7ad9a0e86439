using System.Text.Json.Nodes;
using System.Threading.RateLimiting;
using Shaper.Limiting;

namespace Shaper.Benchmarks;

/// <summary>
/// Issue 2: single-thread token bucket decisions per second for one hot key, 100k and 1M keys
/// round-robin, against System.Threading.RateLimiting's PartitionedRateLimiter (a token bucket per
/// uint key, the idiomatic form) in the same run; bytes per tracked key; bytes allocated per decision.
/// </summary>
internal static class EngineBenchmark
{
    private const int Burst = 100;
    private const int RatePerSecond = 100;
    private const long StepNs = 100;
    private const uint FirstAddress = 0xC6120000; // 198.18.0.0

    public static JsonObject Run(BenchOptions options)
    {
        var cases = new JsonArray();
        Console.WriteLine($"{"case",-22} {"ours/s",14} {"baseline/s",14} {"ratio",7}");
        foreach (var (name, keys) in new[] { ("token_bucket/hot", 1), ("token_bucket/100k", 100_000), ("token_bucket/1m", 1_000_000) })
        {
            var (ours, baseline) = RunCase(keys, options.Quick);
            var ratio = ours / baseline;
            Console.WriteLine($"{name,-22} {ours,14:N0} {baseline,14:N0} {ratio,7:F2}");
            cases.Add(new JsonObject
            {
                ["name"] = name,
                ["ours_per_s"] = Math.Round(ours),
                ["baseline_per_s"] = Math.Round(baseline),
                ["ratio"] = Math.Round(ratio, 2),
            });
        }

        var bytesPerKey = BytesPerKey(1_000_000);
        var allocated = AllocatedPerDecision(100_000);
        Console.WriteLine($"bytes per tracked key at 1M keys: {bytesPerKey:F1}");
        Console.WriteLine($"bytes allocated per decision: {allocated}");
        return new JsonObject
        {
            ["cases"] = cases,
            ["bytes_per_key_1m"] = Math.Round(bytesPerKey, 1),
            ["allocated_bytes_per_decision"] = allocated,
        };
    }

    private static (double Ours, double Baseline) RunCase(int keyCount, bool quick)
    {
        var keys = new uint[keyCount];
        for (var i = 0; i < keyCount; i++)
        {
            keys[i] = FirstAddress + (uint)i;
        }

        var ours = new OursLoop(keys);
        using var baseline = new BaselineLoop(keys);

        // Warm up both (JIT tiers, every key created), then alternate measured runs.
        var warm = Math.Max(keyCount * 2, 1 << 20);
        ours.Run(warm);
        baseline.Run(warm);
        var reps = quick ? 3 : 5;
        var seconds = quick ? 0.25 : 1.0;
        var oursRuns = new List<double>();
        var baseRuns = new List<double>();
        for (var r = 0; r < reps; r++)
        {
            oursRuns.Add(Measure.OpsPerSecond(ours.Run, 1 << 16, seconds));
            baseRuns.Add(Measure.OpsPerSecond(baseline.Run, 1 << 16, seconds));
        }

        return (Measure.Median(oursRuns), Measure.Median(baseRuns));
    }

    private static double BytesPerKey(int keyCount)
    {
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var table = new LimiterTable<V4Key, TokenBucketState, TokenBucketLimiter>(
            new TokenBucketLimiter(Rate.PerSecondOf(RatePerSecond), Burst), keyCount);
        long now = 0;
        for (var i = 0; i < keyCount; i++)
        {
            table.Acquire(new V4Key(FirstAddress + (uint)i), now += StepNs, 1);
        }

        var after = GC.GetTotalMemory(forceFullCollection: true);
        if (table.Count != keyCount)
        {
            throw new InvalidOperationException($"table holds {table.Count} keys, expected {keyCount}");
        }

        GC.KeepAlive(table);
        return (after - before) / (double)keyCount;
    }

    private static long AllocatedPerDecision(int keyCount)
    {
        var keys = new uint[keyCount];
        for (var i = 0; i < keyCount; i++)
        {
            keys[i] = FirstAddress + (uint)i;
        }

        var ours = new OursLoop(keys);
        ours.Run(keyCount * 4);
        const int decisions = 10_000_000;
        var before = GC.GetAllocatedBytesForCurrentThread();
        ours.Run(decisions);
        var after = GC.GetAllocatedBytesForCurrentThread();
        return (after - before) / decisions;
    }

    private sealed class OursLoop(uint[] keys)
    {
        private readonly LimiterTable<V4Key, TokenBucketState, TokenBucketLimiter> _table = new(
            new TokenBucketLimiter(Rate.PerSecondOf(RatePerSecond), Burst), Math.Max(keys.Length, 1024));

        private long _now = 1_700_000_000_000_000_000;
        private int _next;

        public long Run(int count)
        {
            var table = _table;
            var k = keys;
            var next = _next;
            var now = _now;
            long passed = 0;
            for (var i = 0; i < count; i++)
            {
                now += StepNs;
                if (table.Acquire(new V4Key(k[next]), now, 1).Outcome == LimitOutcome.Passed)
                {
                    passed++;
                }

                if (++next == k.Length)
                {
                    next = 0;
                }
            }

            _next = next;
            _now = now;
            return passed;
        }
    }

    private sealed class BaselineLoop(uint[] keys) : IDisposable
    {
        private readonly PartitionedRateLimiter<uint> _limiter = PartitionedRateLimiter.Create<uint, uint>(
            key => RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = Burst,
                TokensPerPeriod = RatePerSecond,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0,
            }));

        private int _next;

        public long Run(int count)
        {
            var k = keys;
            var next = _next;
            long passed = 0;
            for (var i = 0; i < count; i++)
            {
                using var lease = _limiter.AttemptAcquire(k[next]);
                if (lease.IsAcquired)
                {
                    passed++;
                }

                if (++next == k.Length)
                {
                    next = 0;
                }
            }

            _next = next;
            return passed;
        }

        public void Dispose() => _limiter.Dispose();
    }
}
