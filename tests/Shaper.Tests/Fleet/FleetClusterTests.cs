using Microsoft.Extensions.Time.Testing;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Fleet;

/// <summary>
/// The accuracy test on a 3-master Redis Cluster the test creates (three redis-server with cluster mode on,
/// joined by <c>redis-cli --cluster create</c>): each key's script touches two keys with one hash tag, so it runs in
/// one slot, and twenty sources spread the keys over the three masters.
/// </summary>
public sealed class FleetClusterTests(ITestOutputHelper output)
{
    [RedisTheory]
    [InlineData("token_bucket", "rate = \"300/s\"\nburst = 60")]
    [InlineData("sliding_window", "limit = 300\nwindow = \"1s\"")]
    public async Task Cluster_EvenSpreadTwentySources_FleetAdmitsWhatOneLimiterWould(string algorithm, string sizing)
    {
        var nodes = new List<RedisServer>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                nodes.Add(RedisServer.Start("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"));
            }

            var create = Run.Command("redis-cli", ["--cluster", "create", .. nodes.Select(n => n.Endpoint), "--cluster-replicas", "0", "--cluster-yes"], timeout: TimeSpan.FromSeconds(60));
            Assert.True(create.ExitCode == 0, create.Output + create.Error);
            await WaitClusterOk(nodes);
            var endpoints = string.Join(",", nodes.Select(n => n.Endpoint));

            var one = await RunAsync(endpoints, algorithm, sizing, "host", 1);
            var fleet = await RunAsync(endpoints, algorithm, sizing, "fleet", 3);
            var keysPerNode = nodes.Select(n => n.Cli("DBSIZE").Trim()).ToArray();
            output.WriteLine($"{algorithm} on the cluster: one limiter {one}, fleet {fleet}; keys per master {string.Join(", ", keysPerNode)}");
            Assert.InRange(fleet, one * 0.95, one * 1.05);

            // The keys are spread over the masters: every master holds some.
            Assert.All(keysPerNode, k => Assert.True(long.Parse(k, System.Globalization.CultureInfo.InvariantCulture) > 0));
        }
        finally
        {
            foreach (var node in nodes)
            {
                node.Dispose();
            }
        }
    }

    private static async Task<long> RunAsync(string endpoints, string algorithm, string sizing, string scope, int hostCount)
    {
        var config = FleetAccuracyTests.Load(FleetAccuracyTests.Config(endpoints, algorithm, sizing, scope));
        var time = new FakeTimeProvider(FleetSimulation.Epoch);
        var hosts = new List<FleetHost>();
        try
        {
            for (var h = 0; h < hostCount; h++)
            {
                hosts.Add(await FleetHost.StartAsync(config, $"host{h}", time));
            }

            // Twenty sources, each at three times the limit (900 packets/s), spread evenly over the hosts, 5 s.
            var passed = await FleetSimulation.RunAsync(hosts, time, TimeSpan.FromMilliseconds(100), 18_000, TimeSpan.FromSeconds(5), [.. Enumerable.Repeat(1, hostCount)], sources: 20);
            return passed.Sum();
        }
        finally
        {
            foreach (var host in hosts)
            {
                await host.DisposeAsync();
            }
        }
    }

    private static async Task WaitClusterOk(List<RedisServer> nodes)
    {
        // The cluster is usable once every node agrees its state is ok (bounded: 30 s).
        for (var i = 0; i < 300; i++)
        {
            if (nodes.All(n => n.Cli("CLUSTER", "INFO").Contains("cluster_state:ok", StringComparison.Ordinal)))
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail("the 3-master cluster did not reach cluster_state:ok in 30 s");
    }
}
