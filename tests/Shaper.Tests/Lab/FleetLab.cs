namespace Shaper.Tests.Lab;

/// <summary>
/// A fleet in namespaces: <c>hosts</c> namespace labs (<see cref="NetworkLab"/>: a sender and a host under test each)
/// and a redis-server of the test's own in a fourth namespace, joined to each host's namespace by a veth pair
/// (198.19.{10+i}.1 on the store's side, .2 on the host's). Everything is deleted on dispose, even after a failure.
/// </summary>
public sealed class FleetLab : IDisposable
{
    private readonly string _store;

    private FleetLab(string store)
    {
        _store = store;
    }

    /// <summary>Each host's lab.</summary>
    public List<NetworkLab> Labs { get; } = [];

    /// <summary>The redis-server, in the store's namespace.</summary>
    public RedisServer? Redis { get; private set; }

    public static FleetLab Create(int hosts)
    {
        var lab = new FleetLab($"shprs{Random.Shared.Next(1_000_000):D6}");
        try
        {
            Check(Run.Command("ip", ["netns", "add", lab._store]));
            Check(Run.Command("ip", ["-n", lab._store, "link", "set", "lo", "up"]));
            for (var i = 0; i < hosts; i++)
            {
                var host = NetworkLab.Create();
                lab.Labs.Add(host);
                var net = 10 + i;
                Check(Run.Command("ip", ["link", "add", $"r{i}", "netns", lab._store, "type", "veth", "peer", "name", $"f{i}", "netns", host.B]));
                Check(Run.Command("ip", ["-n", lab._store, "addr", "add", $"198.19.{net}.1/24", "dev", $"r{i}"]));
                Check(Run.Command("ip", ["-n", lab._store, "link", "set", $"r{i}", "up"]));
                Check(Run.Command("ip", ["-n", host.B, "addr", "add", $"198.19.{net}.2/24", "dev", $"f{i}"]));
                Check(Run.Command("ip", ["-n", host.B, "link", "set", $"f{i}", "up"]));
            }

            lab.Redis = RedisServer.StartIn(lab._store, 6379, "--bind", "0.0.0.0", "--protected-mode", "no");
            return lab;
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    /// <summary>Where host <paramref name="i"/> reaches the store.</summary>
    public static string Endpoint(int i) => $"198.19.{10 + i}.1:6379";

    public void Dispose()
    {
        Redis?.Dispose();
        foreach (var lab in Labs)
        {
            lab.Dispose();
        }

        Run.Command("ip", ["netns", "del", _store]);
    }

    private static void Check(ProcessResult result) => Assert.True(result.ExitCode == 0, result.Error);
}
