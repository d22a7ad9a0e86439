using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;
using Shaper.Engine;
using Shaper.Packets;
using Shaper.Rules;

namespace Shaper.Tests.Fleet;

/// <summary>
/// Drives hosts in virtual time: one client's packets at a fixed rate, spread over the hosts by weight (a load
/// balancer), and each host's sync every interval, the hosts' syncs offset evenly within it. The wall clock the
/// store sees is the fake clock, moved with the packets; the store is real. Returns what each host passed;
/// <c>decisions</c>, when given, gets each packet's time and how long its engine took to decide it (real ns).
/// </summary>
internal static class FleetSimulation
{
    public const long Start = 1_000_000_000;

    /// <summary>The fake wall clock at packet time <see cref="Start"/>.</summary>
    public static readonly DateTimeOffset Epoch = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    public static async Task<long[]> RunAsync(
        IReadOnlyList<FleetHost> hosts,
        FakeTimeProvider time,
        TimeSpan sync,
        double packetsPerSecond,
        TimeSpan duration,
        int[] weights,
        Func<long, int, Task>? onSync = null,
        uint source = 0xC6120101,
        int sources = 1,
        Action<long, long>? decisions = null)
    {
        var syncNs = sync.Ticks * 100;
        var gapNs = (long)(1e9 / packetsPerSecond);
        var endNs = Start + (duration.Ticks * 100);
        var nextSync = new long[hosts.Count];
        for (var h = 0; h < hosts.Count; h++)
        {
            nextSync[h] = Start + syncNs + (h * syncNs / hosts.Count);
        }

        var slots = weights.SelectMany((w, h) => Enumerable.Repeat(h, w)).ToArray();
        var clockNs = Start;
        var n = 0;
        for (var t = Start; t < endNs; t += gapNs, n++)
        {
            for (var h = 0; h < hosts.Count; h++)
            {
                while (nextSync[h] <= t)
                {
                    Move(time, ref clockNs, nextSync[h]);
                    await hosts[h].SyncAsync(nextSync[h]);
                    if (onSync is not null)
                    {
                        await onSync(nextSync[h], h);
                    }

                    nextSync[h] += syncNs;
                }
            }

            Move(time, ref clockNs, t);
            var packet = new PacketMeta
            {
                TimestampNs = t,
                Family = IpFamily.V4,
                Protocol = 17,
                Source = source + (uint)(n % sources),
                Destination = 0xC6120002,
                DestinationPort = 9000,
                IpLength = 64,
            };
            var started = Stopwatch.GetTimestamp();
            hosts[slots[n % slots.Length]].Engine.Process(packet);
            decisions?.Invoke(t, Stopwatch.GetElapsedTime(started).Ticks * 100);
        }

        return [.. hosts.Select(h => Passed(h.Engine))];
    }

    public static long Passed(RuleEngine engine) => engine.Report(0).Sum(r => r.Passed);

    /// <summary>Moves the fake clock to packet time <paramref name="toNs"/>, unless a round already moved it past (a round takes time).</summary>
    private static void Move(FakeTimeProvider time, ref long clockNs, long toNs)
    {
        var target = Epoch + TimeSpan.FromTicks((toNs - Start) / 100);
        var now = time.GetUtcNow();
        if (target > now)
        {
            time.Advance(target - now);
        }

        clockNs = toNs;
    }
}
