using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Daemon;

[Collection(KernelTrafficCollection.Name)]
public sealed class SpoofedFloodTests(ITestOutputHelper output)
{
    private const int MaxKeys = 65_536;

    [RootFact]
    public async Task Flood_MillionSpoofedSources_StaysWithinTheConfiguredTables()
    {
        using var lab = NetworkLab.Create();
        var pcap = Path.Combine(Path.GetTempPath(), $"shaper-flood-{Environment.ProcessId}.pcap");
        TrafficPcap.Write(pcap, TrafficPcap.SpoofedFlood(1_000_000));
        try
        {
            using var daemon = DaemonProcess.Start(
                lab.B,
                """
                [[rule]]
                name = "udp-flood"
                match = { proto = "udp", dport = [9000] }
                rate = "10/s"
                burst = 20
                enforce = "observe"
                action = "log"
                """,
                $"interface = \"{NetworkLab.ReceiverInterface}\"\nbackend = \"none\"\nmax_keys = {MaxKeys}");
            var before = daemon.RssBytes();

            var sent = lab.Exec(lab.A, "tcpreplay", "-q", "-i", "va", "--topspeed", pcap);
            Assert.True(sent.ExitCode == 0, sent.Error + sent.Output);

            // Let the engine drain what capture handed over, then read its counters.
            await Task.Delay(1000);
            var counters = await daemon.SendAsync("counters", new() { ["top"] = 0 });
            Assert.True(counters.Ok, counters.Error);
            var rule = counters.Result!["rules"]![0]!;
            var tracked = rule["keys_tracked"]!.GetValue<int>();
            var evictions = rule["evictions"]!.GetValue<long>();
            var seen = rule["passed"]!.GetValue<long>() + rule["limited"]!.GetValue<long>();
            var peak = daemon.PeakRssBytes();
            var status = await daemon.SendAsync("status");
            output.WriteLine($"packets seen by the engine {seen}, keys tracked {tracked}, evictions {evictions}, RSS before {before / 1048576.0:F1} MB, peak {peak / 1048576.0:F1} MB; status {status.Result}");

            // The table never grows past its configured size; the sources beyond it were evicted, not added.
            Assert.True(tracked <= MaxKeys, $"{tracked} keys tracked");
            Assert.True(seen > 2 * MaxKeys, $"the flood barely reached the engine ({seen} packets)");
            Assert.True(evictions >= seen - MaxKeys - rule["limited"]!.GetValue<long>() - 1000, $"{evictions} evictions for {seen} packets");

            // Memory: the tables grow with the sources only up to max_keys, so the flood adds little beyond what the
            // daemon held before it (the capture buffer and ring are fixed). 64 MB of slack covers the tables' growth
            // (each doubling leaves the old table to the GC) and the GC's own.
            Assert.True(peak - before < 64L << 20, $"peak RSS grew by {(peak - before) / 1048576.0:F1} MB under the flood");
        }
        finally
        {
            File.Delete(pcap);
        }
    }
}
