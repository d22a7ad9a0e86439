using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;
using Shaper.Engine;
using Shaper.Fleet;
using Shaper.Packets;
using Shaper.Rules;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Fleet;

/// <summary>The store's cost and its stalls, against a real redis-server.</summary>
public sealed class FleetStoreFaultTests(ITestOutputHelper output)
{
    [RedisFact]
    public async Task RedisStopped_TwoSeconds_SlowCallsOpenTheBreaker()
    {
        // Real time here: a stalled store is measured by how long its calls take.
        using var redis = RedisServer.Start();
        var settings = new FleetSettings { Redis = redis.Endpoint, Host = "h", Sync = TimeSpan.FromMilliseconds(100), Hosts = 3 };
        var rule = FleetAccuracyTests.Load(FleetAccuracyTests.Config(redis.Endpoint, "token_bucket", "rate = \"300/s\"\nburst = 60", "fleet")).Rules[0];
        var call = StoreCallOptions.ForSync(settings.Sync);
        var options = BreakerOptions.ForSync(settings.Sync);
        var breaker = new CircuitBreaker(options, TimeProvider.System);
        (double FailureRate, double SlowCallRate, int Calls)? atOpen = null;
        breaker.StateChanged += (_, to) =>
        {
            if (to == BreakerState.Open)
            {
                atOpen ??= breaker.LastTrip;
            }
        };
        await using var store = await RedisFleetStore.ConnectAsync(settings.Redis, "h", call.AttemptTimeout);
        var sync = new FleetSync(settings, [rule], store, new StoreCallPolicy(call, breaker, new RetryQuota(), TimeProvider.System, new Random(3)), TimeProvider.System);
        var key = new HeldKey(IpFamily.V4, 0xC6120101, 32, 0, KeyKind.Source);
        // Warm-up (the JIT, the connection, the scripts' first load): ten rounds in a row that reach the store, at most
        // 100 rounds; beside other tests the first rounds can outlast their 50 ms timeout, or be slow enough to open the
        // breaker, which is closed again. Then the breaker starts afresh.
        var good = 0;
        string? error = null;
        for (var i = 0; i < 100 && good < 10; i++)
        {
            var round = await sync.ExchangeAsync([new FleetDelta(rule.Name, key, 1, 1)], CancellationToken.None);
            good = round.Shared ? good + 1 : 0;
            error = round.Error ?? error;
            if (breaker.State == BreakerState.Open)
            {
                breaker.Close(); // slow first calls opened it: not what this test is about
            }

        }

        Assert.True(good == 10, $"no ten rounds in a row reached the store: {error}");
        breaker.Close();
        atOpen = null;

        redis.Pause();
        var watch = Stopwatch.StartNew();
        try
        {
            // Rounds back to back while the server is stopped, for at most its 2 s.
            while (watch.Elapsed < TimeSpan.FromSeconds(2) && breaker.State != BreakerState.Open)
            {
                await sync.ExchangeAsync([new FleetDelta(rule.Name, key, 1, 1)], CancellationToken.None);
            }
        }
        finally
        {
            redis.Resume();
        }

        output.WriteLine($"opened after {watch.ElapsedMilliseconds} ms of the 2 s stop: window at opening {atOpen}, counts {breaker.Snapshot()}; slow-call duration {options.SlowCallDuration.TotalMilliseconds} ms, attempt timeout {call.AttemptTimeout.TotalMilliseconds} ms");
        Assert.NotNull(atOpen);
        Assert.True(atOpen!.Value.SlowCallRate >= options.SlowCallRateThreshold, $"slow-call rate {atOpen.Value.SlowCallRate} % when it opened");
        Assert.True(atOpen.Value.Calls >= options.MinimumCalls);
        Assert.True(breaker.Snapshot().Slow >= options.MinimumCalls / 2);
    }

    [RedisFact]
    public async Task Commands_OneBatchPerSyncWithOneScriptPerKey_SameAtTenAndHundredThousandPacketsASecond()
    {
        using var redis = RedisServer.Start();
        var perSecond = new Dictionary<int, double>();
        foreach (var rate in (int[])[10_000, 100_000])
        {
            var config = FleetAccuracyTests.Load(FleetAccuracyTests.Config(redis.Endpoint, "token_bucket", "rate = \"300/s\"\nburst = 60", "fleet"));
            var time = new FakeTimeProvider(FleetSimulation.Epoch);
            var hosts = new List<FleetHost>();
            for (var h = 0; h < 3; h++)
            {
                hosts.Add(await FleetHost.StartAsync(config, $"host{h}", time));
            }

            redis.Cli("CONFIG", "RESETSTAT");
            try
            {
                // 20 sources spread over the hosts, 2 s: every host sees every source in every round.
                await FleetSimulation.RunAsync(hosts, time, TimeSpan.FromMilliseconds(100), rate, TimeSpan.FromSeconds(2), [1, 1, 1], sources: 20);
            }
            finally
            {
                foreach (var host in hosts)
                {
                    await host.DisposeAsync();
                }
            }

            var calls = redis.CommandCalls();
            var scripts = calls.GetValueOrDefault("evalsha") + calls.GetValueOrDefault("eval");
            var rounds = hosts.Sum(h => h.Rounds);
            var retries = hosts.Sum(h => h.Sync.Status().Retries);

            // Each batch a host sends (a round's, or a retry of a round's whose reply came late) reads the block set's
            // version once: the GETs count the batches, retries included.
            var batches = calls.GetValueOrDefault("get");
            perSecond[rate] = rounds / 3.0 / 2.0;
            output.WriteLine($"{rate} packets/s: {scripts} scripts in {batches} batches ({rounds} rounds of 3 hosts, {retries} retries): {scripts / 3.0 / 2.0:F0} store commands per host per second; all commands: {string.Join(", ", calls.Select(c => $"{c.Key}={c.Value}"))}");

            // One pipelined batch per host per sync, with one script per active key and nothing per packet: every batch,
            // a retried one too, carries the 20 keys' scripts; a retry adds a batch, never a script outside one.
            Assert.Equal(20 * batches, scripts);
            Assert.InRange(batches, rounds, rounds + retries);

            // Host h syncs at 100 ms × k + h × 33 ms, k ≥ 1, within the 2 s: 19 rounds each.
            Assert.Equal(3 * 19, rounds);
        }

        // Batches per host per second (rounds, not counting retries) the same at both packet rates.
        Assert.Equal(perSecond[10_000], perSecond[100_000]);
    }
}
