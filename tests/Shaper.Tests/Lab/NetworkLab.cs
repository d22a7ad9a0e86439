using System.Globalization;
using System.Text;

namespace Shaper.Tests.Lab;

/// <summary>
/// Two network namespaces joined by a veth pair, created for one test and deleted after it: the sender
/// (<see cref="A"/>, 198.18.0.1/15 and 2001:db8::1/64 on <c>va</c>) and the host under test
/// (<see cref="B"/>, 198.18.0.2/15 and 2001:db8::2/64 on <c>vb</c>). Nothing touches the host's own
/// namespace; the addresses are the benchmarking ranges, used only inside these namespaces.
/// </summary>
public sealed class NetworkLab : IDisposable
{
    /// <summary>The MAC the receiving veth gets, so that generated frames are addressed to it.</summary>
    public const string ReceiverMac = "02:00:00:00:00:02";

    private NetworkLab(string prefix)
    {
        A = prefix + "a";
        B = prefix + "b";
    }

    /// <summary>The sending namespace.</summary>
    public string A { get; }

    /// <summary>The namespace under test.</summary>
    public string B { get; }

    public static NetworkLab Create()
    {
        var lab = new NetworkLab($"shp{Random.Shared.Next(1_000_000):D6}");
        try
        {
            lab.Ip("netns", "add", lab.A);
            lab.Ip("netns", "add", lab.B);
            lab.AddLink();
            return lab;
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    /// <summary>Deletes the veth pair (both ends go), as an operator's <c>ip link del</c> or a vanished device would.</summary>
    public void DeleteLink() => IpIn(B, "link", "del", "vb");

    /// <summary>The veth pair, va in A and vb in B, addressed and up: as <see cref="Create"/> makes it, again after <see cref="DeleteLink"/>.</summary>
    public void AddLink()
    {
        Ip("link", "add", "va", "netns", A, "type", "veth", "peer", "name", "vb", "netns", B);
        IpIn(B, "link", "set", "dev", "vb", "address", ReceiverMac);
        foreach (var (ns, dev, v4, v6) in new[] { (A, "va", "198.18.0.1/15", "2001:db8::1/64"), (B, "vb", "198.18.0.2/15", "2001:db8::2/64") })
        {
            IpIn(ns, "link", "set", "lo", "up");
            IpIn(ns, "addr", "add", v4, "dev", dev);
            IpIn(ns, "addr", "add", v6, "dev", dev, "nodad");
            IpIn(ns, "link", "set", dev, "up");
        }
    }

    /// <summary>Runs <paramref name="program"/> inside <paramref name="ns"/>.</summary>
    public ProcessResult Exec(string ns, string program, params string[] args) =>
        Run.Command("ip", ["netns", "exec", ns, program, .. args]);

    /// <summary>Adds <paramref name="count"/> IPv4 addresses 198.18.{1..}.x/15 to the sender's veth, in one batch.</summary>
    public IReadOnlyList<string> AddSenderAddresses(int count)
    {
        var batch = new StringBuilder();
        var addresses = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            var address = string.Create(CultureInfo.InvariantCulture, $"198.18.{1 + (i / 250)}.{1 + (i % 250)}");
            addresses.Add(address);
            batch.Append(CultureInfo.InvariantCulture, $"addr add {address}/15 dev va\n");
        }

        Run.Command("ip", ["-n", A, "-batch", "-"], batch.ToString()).EnsureSuccess("adding sender addresses");
        return addresses;
    }

    /// <summary>The interface name of the receiving side.</summary>
    public static string ReceiverInterface => "vb";

    public void Dispose()
    {
        // Deleting a namespace deletes the veth end in it, and with it the pair.
        Run.Command("ip", ["netns", "del", A]);
        Run.Command("ip", ["netns", "del", B]);
    }

    private void Ip(params string[] args) => Run.Command("ip", args).EnsureSuccess("ip " + string.Join(' ', args));

    private void IpIn(string ns, params string[] args) => Run.Command("ip", ["-n", ns, .. args]).EnsureSuccess($"ip -n {ns} " + string.Join(' ', args));
}
