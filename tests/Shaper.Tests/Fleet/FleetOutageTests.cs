using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;
using Shaper.Fleet;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Fleet;

/// <summary>
/// The store goes away mid-run and comes back: three in-process hosts on a real redis-server that the test kills
/// and starts again. Rounds run on the packets' virtual clock (the breaker's and Polly's clock too); the store's
/// failures are real (a killed server refuses the connection).
/// </summary>
public sealed class FleetOutageTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Sync = TimeSpan.FromMilliseconds(100);

    [RedisFact]
    public async Task RedisKilled_BreakerOpensHostsEnforceTheirShare_ThenSharedAgainWhenItReturns()
    {
        using var redis = RedisServer.Start();
        var config = FleetAccuracyTests.Load(FleetAccuracyTests.Config(redis.Endpoint, "token_bucket", "rate = \"300/s\"\nburst = 60", "fleet"));
        var time = new FakeTimeProvider(FleetSimulation.Epoch);
        var hosts = new List<FleetHost>();
        const long second = 1_000_000_000;
        long killAt = FleetSimulation.Start + (3 * second), backAt = FleetSimulation.Start + (6 * second);
        var opened = new long?[3];
        var closedAgain = new long?[3];
        long[]? atKill = null, atBack = null;
        var nowNs = FleetSimulation.Start;
        try
        {
            for (var h = 0; h < 3; h++)
            {
                var host = await FleetHost.StartAsync(config, $"host{h}", time);
                var index = h;
                host.Sync.Policy.Breaker.StateChanged += (_, to) =>
                {
                    if (to == BreakerState.Open && opened[index] is null && nowNs >= killAt)
                    {
                        opened[index] = nowNs;
                    }

                    if (to == BreakerState.Closed && nowNs >= backAt)
                    {
                        closedAgain[index] ??= nowNs;
                    }
                };
                hosts.Add(host);
            }

            // Each decision's real time, before the kill (shared) and in the outage (share only): reported, not
            // asserted (a timed assertion on a shared machine measures the neighbours).
            var shared = new List<long>();
            var outage = new List<long>();
            var total = await FleetSimulation.RunAsync(hosts, time, Sync, 900, TimeSpan.FromSeconds(10), [1, 1, 1], decisions: (t, ns) =>
            {
                if (t > FleetSimulation.Start + second && t < killAt)
                {
                    shared.Add(ns);
                }
                else if (t > killAt + (Sync.Ticks * 200) && t < backAt)
                {
                    outage.Add(ns);
                }
            }, onSync: async (t, h) =>
            {
                nowNs = t;
                if (atKill is null && t >= killAt)
                {
                    atKill = [.. hosts.Select(x => FleetSimulation.Passed(x.Engine))];
                    redis.Kill();
                }
                else if (atBack is null && t >= backAt)
                {
                    atBack = [.. hosts.Select(x => FleetSimulation.Passed(x.Engine))];
                    redis.Restart();
                    await WaitConnected(hosts);
                }
            });

            shared.Sort();
            outage.Sort();
            output.WriteLine($"engine decision latency p50/p99: shared {shared[shared.Count / 2]}/{shared[(int)(shared.Count * 0.99)]} ns, in the outage {outage[outage.Count / 2]}/{outage[(int)(outage.Count * 0.99)]} ns");
            for (var h = 0; h < 3; h++)
            {
                var share = atBack![h] - atKill![h];
                output.WriteLine($"total {total.Sum()}; host{h}: breaker open {(opened[h] - killAt) / 1e6:F0} ms after the kill, closed {(closedAgain[h] - backAt) / 1e6:F0} ms after Redis returned; admitted {share} in the 3 s outage (its share from the opening: {100.0 * (backAt - opened[h]) / second:F0}); {total[h]} in all; {hosts[h].Sync.Status()}");
            }

            // The outage's hits reached the store when it returned (empty: it was killed) and were charged as they came,
            // neither lost nor charged twice: over the whole run the fleet admitted about what one limiter admits
            // (60 + 300 × 10 s), plus at most the hosts' share bursts (3 × 20) in the outage.
            Assert.InRange(total.Sum(), (60 + 3000) * 0.95, (60 + 3000 + 60) * 1.05);

            // 300/s burst 60 over 3 hosts: each host's share is 100/s with a burst of 20. Until the breaker opens the
            // hosts keep their grants (a failed round or two on a busy machine is no outage); from then each goes on
            // from what is left of its grant, refilled at 100/s (at most 20): 100 a second from the opening to Redis's
            // return, and at most that rest (a grant is about a third of 60) besides.
            for (var h = 0; h < 3; h++)
            {
                Assert.NotNull(opened[h]);
                Assert.InRange(opened[h]!.Value - killAt, 0, 1 * second);
                var shareExpected = 100.0 * (backAt - opened[h]!.Value) / second;
                Assert.InRange(atBack![h] - atKill![h], shareExpected * 0.95, (shareExpected + 20) * 1.05);
                Assert.NotNull(closedAgain[h]);

                // Back within the wait in open (2 s) and the three trial calls' rounds.
                Assert.InRange(closedAgain[h]!.Value - backAt, 0, (2 * second) + (4 * Sync.Ticks * 100));
                Assert.True(hosts[h].Sync.Shared);
            }
        }
        finally
        {
            foreach (var host in hosts)
            {
                await host.DisposeAsync();
            }
        }
    }

    private static async Task WaitConnected(List<FleetHost> hosts)
    {
        // StackExchange.Redis reconnects in the background on its own (real) clock; wait for that, at most 15 s.
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(15) && !hosts.All(h => h.Sync.Status().Connected))
        {
            await Task.Delay(20);
        }

        Assert.True(hosts.All(h => h.Sync.Status().Connected), "the hosts did not reconnect to the restarted redis-server in 15 s");
    }
}
