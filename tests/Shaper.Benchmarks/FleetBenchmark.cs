using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Shaper.Rules;
using Shaper.Tests.Fleet;
using Shaper.Tests.Lab;

namespace Shaper.Benchmarks;

/// <summary>
/// The fleet at scale: N hosts (3 to 100) in one process, each with its own engine, connection and sync, against a
/// redis-server the suite starts on loopback. 101 clients (prime, so a round-robin balancer spreads every client
/// over every host) each send three times their fleet limit (token bucket 300/s, burst 60) for 5 s of virtual time.
/// Measured per N: what the fleet admitted against one limiter fed the same packets (over-admission per client),
/// beside the bound hosts × per-host rate × (sync + round trip); store commands per host per second (Redis INFO
/// commandstats); and each round's real latency (one pipelined batch of 101 scripts).
/// </summary>
internal static class FleetBenchmark
{
    private const int Clients = 101;
    private const double PerClient = 900;
    private static readonly TimeSpan Sync = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(5);

    public static JsonObject? Run(BenchOptions options)
    {
        if (!RedisServer.IsInstalled)
        {
            Console.WriteLine("fleet: skipped, redis-server is not installed (packaging/install-deps.sh installs it)");
            return null;
        }

        using var redis = RedisServer.Start();
        var c = CultureInfo.InvariantCulture;
        var one = RunAsync(redis, "host", 1).GetAwaiter().GetResult();
        var runs = new JsonArray();
        foreach (var hosts in options.Quick ? (int[])[3, 10] : [3, 10, 30, 100])
        {
            // Each run starts its virtual clock at the same instant: the store starts empty too.
            redis.Cli("FLUSHALL");
            redis.Cli("CONFIG", "RESETSTAT");
            var fleet = RunAsync(redis, "fleet", hosts).GetAwaiter().GetResult();
            var calls = redis.CommandCalls();
            var scripts = calls.GetValueOrDefault("evalsha") + calls.GetValueOrDefault("eval");
            var overPerClient = (fleet.Admitted - one.Admitted) / (double)Clients;
            var rttMs = fleet.SyncP50Ms;
            var bound = hosts * (PerClient / hosts) * ((Sync.TotalMilliseconds + rttMs) / 1000);
            var run = new JsonObject
            {
                ["hosts"] = hosts,
                ["admitted"] = fleet.Admitted,
                ["one_limiter_admitted"] = one.Admitted,
                ["over_admission_per_client"] = Math.Round(overPerClient, 1),
                ["over_admission_percent"] = Math.Round(100.0 * (fleet.Admitted - one.Admitted) / one.Admitted, 2),
                ["bound_per_client"] = Math.Round(bound, 1),
                ["store_commands_per_host_per_s"] = Math.Round(scripts / (double)hosts / Duration.TotalSeconds, 1),
                ["rounds"] = fleet.Rounds,
                ["sync_p50_ms"] = Math.Round(fleet.SyncP50Ms, 3),
                ["sync_p99_ms"] = Math.Round(fleet.SyncP99Ms, 3),
                ["wall_s"] = Math.Round(fleet.WallSeconds, 1),
                ["sync_failures"] = fleet.Failures,
                ["breaker_transitions"] = fleet.Transitions,
                ["shared_rounds"] = fleet.SharedRounds,
            };
            runs.Add(run);
            Console.WriteLine(string.Create(c, $"fleet: {hosts} hosts: admitted {fleet.Admitted} (one limiter {one.Admitted}), over-admission {overPerClient:F1} per client (bound {bound:F1}), {run["store_commands_per_host_per_s"]} commands/host/s, sync p50 {fleet.SyncP50Ms:F2} ms p99 {fleet.SyncP99Ms:F2} ms"));
        }

        return new JsonObject
        {
            ["suite"] = "fleet",
            ["clients"] = Clients,
            ["rule"] = "token_bucket 300/s burst 60, scope = \"fleet\", observe, drop",
            ["offered_per_client_pps"] = PerClient,
            ["sync_ms"] = Sync.TotalMilliseconds,
            ["duration_s"] = Duration.TotalSeconds,
            ["clock"] = "virtual for packets and rounds; sync latency in real time",
            ["runs"] = runs,
        };
    }

    private static async Task<(long Admitted, int Rounds, double SyncP50Ms, double SyncP99Ms, double WallSeconds, long Failures, long Transitions, int SharedRounds)> RunAsync(RedisServer redis, string scope, int count)
    {
        var toml = $"""
            [daemon]
            interface = "lab0"
            backend = "nftables"
            max_keys = 1024
            [fleet]
            redis = "{redis.Endpoint}"
            sync = "100ms"
            hosts = {count}
            [[rule]]
            name = "fleet-r"
            rate = "300/s"
            burst = 60
            enforce = "observe"
            action = "drop"
            scope = "{scope}"
            """;
        var config = ConfigLoader.Parse(toml, "fleet.toml").Config ?? throw new InvalidOperationException("the benchmark's configuration does not load");
        var time = new FakeTimeProvider(FleetSimulation.Epoch);
        var hosts = new List<FleetHost>();
        var watch = Stopwatch.StartNew();
        var latencies = new List<double>();
        try
        {
            for (var h = 0; h < count; h++)
            {
                var host = await FleetHost.StartAsync(config, $"host{h}", time);

                // A round of 100 hosts queued on one Redis takes up to about 100 ms of real time here: it must not
                // move the shared virtual clock (the store would refill for time that did not pass).
                host.PatienceMs = 1000;
                hosts.Add(host);
            }

            var passed = await FleetSimulation.RunAsync(hosts, time, Sync, PerClient * Clients, Duration, [.. Enumerable.Repeat(1, count)], sources: Clients);
            foreach (var host in hosts)
            {
                latencies.AddRange(host.Latencies);
            }

            latencies.Sort();
            double P(double q) => latencies.Count == 0 ? double.NaN : latencies[Math.Clamp((int)Math.Ceiling(q * latencies.Count) - 1, 0, latencies.Count - 1)];
            return (passed.Sum(), hosts.Sum(h => h.Rounds), P(0.5), P(0.99), watch.Elapsed.TotalSeconds, hosts.Sum(h => h.Sync.Status().SyncFailures), hosts.Sum(h => h.Sync.Status().Breaker.Transitions), hosts.Sum(h => h.SharedRounds));
        }
        finally
        {
            foreach (var host in hosts)
            {
                await host.DisposeAsync();
            }
        }
    }
}
