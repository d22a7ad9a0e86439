using Microsoft.Extensions.Time.Testing;
using Shaper.Engine;
using Shaper.Rules;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Fleet;

/// <summary>
/// Three hosts (three engines, each with its own connection and sync) share one real redis-server. One client is
/// spread over them by a load balancer at three times a fleet limit. What the fleet admits in total is compared
/// with one limiter fed the same packets, and with the same hosts under scope = "host" (each limits alone).
/// </summary>
public sealed class FleetAccuracyTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Sync = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(10);

    public static TheoryData<string, string> Algorithms => new()
    {
        // 300/s with a burst of 60: one limiter admits 60 + 300 × 10 s.
        { "token_bucket", "rate = \"300/s\"\nburst = 60" },

        // 300 a second in a sliding window of 1 s.
        { "sliding_window", "limit = 300\nwindow = \"1s\"" },

        // The leaky meter shares the token bucket's script (its level is burst minus tokens).
        { "leaky_bucket", "rate = \"300/s\"\nburst = 60" },
        { "fixed_window", "limit = 300\nwindow = \"1s\"" },
    };

    [RedisTheory]
    [MemberData(nameof(Algorithms))]
    public async Task EvenSpread_ThreeTimesTheLimit_FleetAdmitsWhatOneLimiterWould(string algorithm, string sizing)
    {
        using var redis = RedisServer.Start();
        var one = await OneLimiterAsync(algorithm, sizing);
        var fleet = await RunAsync(redis, algorithm, sizing, "fleet", [1, 1, 1]);
        var host = await RunAsync(redis, algorithm, sizing, "host", [1, 1, 1]);
        output.WriteLine($"{algorithm}: one limiter {one}, fleet {fleet.Sum()} ({string.Join(" + ", fleet)}), scope=host {host.Sum()} ({string.Join(" + ", host)})");

        Assert.InRange(fleet.Sum(), one * 0.95, one * 1.05);
        Assert.True(host.Sum() > one * 2.5, $"scope = \"host\" admitted {host.Sum()}, not about 3 × {one}");
    }

    [RedisTheory]
    [MemberData(nameof(Algorithms))]
    public async Task UnevenSpread_SharesFollowDemand_FleetStillAdmitsWhatOneLimiterWould(string algorithm, string sizing)
    {
        using var redis = RedisServer.Start();
        var one = await OneLimiterAsync(algorithm, sizing);

        // 6 of every 8 packets to the first host: a fixed split of limit ÷ 3 would admit far less than the limit.
        var fleet = await RunAsync(redis, algorithm, sizing, "fleet", [6, 1, 1]);
        output.WriteLine($"{algorithm}: one limiter {one}, fleet {fleet.Sum()} ({string.Join(" + ", fleet)})");
        Assert.InRange(fleet.Sum(), one * 0.95, one * 1.05);
    }

    internal static string Config(string redis, string algorithm, string sizing, string scope) => $"""
        [daemon]
        interface = "lab0"
        backend = "nftables"
        [fleet]
        redis = "{redis}"
        sync = "100ms"
        hosts = 3
        [[rule]]
        name = "fleet-r"
        algorithm = "{algorithm}"
        {sizing}
        enforce = "observe"
        action = "drop"
        scope = "{scope}"
        """;

    internal static ShaperConfig Load(string toml)
    {
        var result = ConfigLoader.Parse(toml, "shaper.toml");
        Assert.True(result.Config is not null, string.Join("\n", result.Diagnostics));
        return result.Config!;
    }

    private static async Task<long> OneLimiterAsync(string algorithm, string sizing)
    {
        // The same rule on one host alone, fed the whole stream.
        var config = Load(Config("127.0.0.1:1", algorithm, sizing, "host"));
        var time = new FakeTimeProvider(FleetSimulation.Epoch);
        var engine = new RuleEngine(CompiledRuleSet.Compile(config), 1024);
        var gapNs = (long)(1e9 / 900);
        for (var t = FleetSimulation.Start; t < FleetSimulation.Start + (Duration.Ticks * 100); t += gapNs)
        {
            engine.Process(new Shaper.Packets.PacketMeta
            {
                TimestampNs = t,
                Family = Shaper.Packets.IpFamily.V4,
                Protocol = 17,
                Source = 0xC6120101,
                Destination = 0xC6120002,
                DestinationPort = 9000,
                IpLength = 64,
            });
        }

        await Task.CompletedTask;
        return FleetSimulation.Passed(engine);
    }

    private static async Task<long[]> RunAsync(RedisServer redis, string algorithm, string sizing, string scope, int[] weights)
    {
        redis.Cli("FLUSHALL");
        var config = Load(Config(redis.Endpoint, algorithm, sizing, scope));
        var time = new FakeTimeProvider(FleetSimulation.Epoch);
        var hosts = new List<FleetHost>();
        try
        {
            for (var h = 0; h < 3; h++)
            {
                hosts.Add(await FleetHost.StartAsync(config, $"host{h}", time));
            }

            return await FleetSimulation.RunAsync(hosts, time, Sync, 900, Duration, weights);
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
