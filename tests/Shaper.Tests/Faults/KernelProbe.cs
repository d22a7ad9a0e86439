using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Shaper.Tests.Lab;

namespace Shaper.Tests.Faults;

/// <summary>
/// What the kernel of a lab's namespace under test really does, for the fault-injection tests: packets from a
/// chosen source sent from the sender namespace and counted when they get through (the <see cref="Tally"/> table,
/// after the shaper's chains), and the shaper's table and sets as nft lists them.
/// </summary>
internal sealed class KernelProbe(NetworkLab lab)
{
    public const ushort Port = 9001;

    /// <summary>Installs the counting table; call once per lab.</summary>
    public static KernelProbe Install(NetworkLab lab)
    {
        Tally.Install(lab, Port);
        return new KernelProbe(lab);
    }

    /// <summary>Installs the counting table again (after a test flushed the whole ruleset, the tally with it).</summary>
    public void Reinstall() => Tally.Install(lab, Port);

    /// <summary>Sends <paramref name="count"/> UDP packets from <paramref name="source"/> as fast as it can; returns how many got through.</summary>
    public long Through(string source, int count = 50)
    {
        var address = IPAddress.Parse(source);
        var v6 = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        var bytes = address.GetAddressBytes();
        UInt128 value = 0;
        foreach (var b in bytes)
        {
            value = (value << 8) | b;
        }

        var key = address.ToString();
        var before = Tally.Read(lab).GetValueOrDefault(key);
        var pcap = Path.Combine(Path.GetTempPath(), string.Create(CultureInfo.InvariantCulture, $"shaper-fault-{Environment.ProcessId}-{Random.Shared.Next()}.pcap"));
        try
        {
            TrafficPcap.Write(pcap, Enumerable.Range(0, count).Select(i => new TrafficPcap.Udp(i * 100_000L, value, Port, v6)));
            lab.Exec(lab.A, "tcpreplay", "-q", "--topspeed", "-i", "va", pcap).EnsureSuccess("sending the probe");
        }
        finally
        {
            File.Delete(pcap);
        }

        return Tally.Read(lab).GetValueOrDefault(key) - before;
    }

    /// <summary>The elements of one of the shaper's sets with the seconds each has left; empty when the set is not there.</summary>
    public Dictionary<string, long> Elements(string set)
    {
        var listing = lab.Exec(lab.B, "nft", "-j", "list", "set", "inet", "shaper", set);
        var elements = new Dictionary<string, long>(StringComparer.Ordinal);
        if (listing.ExitCode != 0)
        {
            return elements;
        }

        foreach (var item in JsonNode.Parse(listing.Output)!["nftables"]!.AsArray())
        {
            foreach (var element in item?["set"]?["elem"]?.AsArray() ?? [])
            {
                var elem = element!["elem"]!;
                elements[elem["val"]!.GetValue<string>()] = elem["expires"]?.GetValue<long>() ?? 0;
            }
        }

        return elements;
    }

    /// <summary>A chain of the shaper's table as nft lists it (rules and named objects, no counts); "" when it is not there.</summary>
    public string Chain(string chain)
    {
        var listing = lab.Exec(lab.B, "nft", "list", "chain", "inet", "shaper", chain);
        return listing.ExitCode == 0 ? listing.Output : "";
    }

    /// <summary>Runs an nft command in the namespace under test (the tampering).</summary>
    public void Nft(string command) => Run.Command("ip", ["netns", "exec", lab.B, "nft", "-f", "-"], command + "\n").EnsureSuccess("nft " + command);

    /// <summary>Waits until <paramref name="condition"/> holds, polling; returns how long it took, or null after <paramref name="limit"/>.</summary>
    public static TimeSpan? Until(Func<bool> condition, TimeSpan limit)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < limit)
        {
            if (condition())
            {
                return watch.Elapsed;
            }

            Thread.Sleep(10);
        }

        return condition() ? watch.Elapsed : null;
    }
}
