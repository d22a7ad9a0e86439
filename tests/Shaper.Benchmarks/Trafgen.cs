using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Shaper.Tests.Lab;

namespace Shaper.Benchmarks;

/// <summary>
/// trafgen (netsniff-ng) in a lab's sender namespace: UDP packets to the receiver's port 9000 from consecutive
/// source addresses, round-robin, through a packet socket's TX ring, faster than tcpreplay on the same cores. It is
/// run with --no-sock-mem and --notouch-irq so that it tunes nothing outside the namespace, and with one process.
/// </summary>
internal static partial class Trafgen
{
    /// <summary>
    /// Sends <paramref name="count"/> packets from <paramref name="sources"/> addresses from <paramref name="firstSource"/>
    /// on, at <paramref name="pps"/> packets a second (0: as fast as it can); the rate it reached. The rate holds per
    /// second, not per packet: trafgen's <c>-b</c> sends each second's packets as fast as its paced loop goes (about
    /// 315,000 a second here; 100,000 a second arrived as 330 ms of traffic and 670 ms of none, counted from a capture
    /// on the receiving end), so a receiver meets bursts of that speed. Its <c>-t</c> gap sleeps between packets
    /// instead, which reached only about 29,000 a second with a 10 µs gap.
    /// </summary>
    public static double Send(NetworkLab lab, uint firstSource, int sources, int pps, long count)
    {
        var config = Path.Combine(Path.GetTempPath(), $"shaper-bench-trafgen-{Environment.ProcessId}.cfg");
        File.WriteAllText(config, string.Create(
            CultureInfo.InvariantCulture,
            $"{{ eth(da={NetworkLab.ReceiverMac}, sa=02:00:00:00:00:01), ipv4(saddr=dinc({firstSource}, {firstSource + (uint)sources - 1}), daddr=198.18.0.2, ttl=64), udp(sp=1234, dp=9000), fill(0, 18) }}\n"));
        try
        {
            var args = new List<string> { "--no-sock-mem", "--notouch-irq", "-P", "1", "-o", "va", "-i", config, "-n", count.ToString(CultureInfo.InvariantCulture) };
            if (pps > 0)
            {
                args.AddRange(["-b", pps.ToString(CultureInfo.InvariantCulture) + "pps"]);
            }

            var watch = Stopwatch.StartNew();
            var sent = lab.Exec(lab.A, "trafgen", [.. args]);
            if (sent.ExitCode != 0)
            {
                throw new InvalidOperationException("trafgen: " + sent.Error + sent.Output);
            }

            // Its closing report: "N sec, M usec on CPU0 (P packets)"; the process's own wall time if absent.
            var report = CpuLine().Match(sent.Output + sent.Error);
            var seconds = report.Success
                ? long.Parse(report.Groups[1].Value, CultureInfo.InvariantCulture) + (long.Parse(report.Groups[2].Value, CultureInfo.InvariantCulture) / 1e6)
                : watch.Elapsed.TotalSeconds;
            return Math.Round(count / Math.Max(seconds, 1e-6));
        }
        finally
        {
            File.Delete(config);
        }
    }

    [GeneratedRegex(@"(\d+) sec, (\d+) usec on CPU\d+ \((\d+) packets\)")]
    private static partial Regex CpuLine();
}
