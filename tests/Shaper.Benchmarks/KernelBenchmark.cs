using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Shaper.Firewall;

namespace Shaper.Benchmarks;

/// <summary>
/// Issue 4: time to load 100,000 blocks into an empty set, and the latency of one more block on a set that
/// holds 100,000, from the call to the element being visible in the kernel; libnftables in process against
/// spawning one nft process per block (the fail2ban way) in the same run. Runs inside a network namespace
/// it creates and deletes: the parent re-runs itself under `ip netns exec` as the child that measures.
/// </summary>
internal static class KernelBenchmark
{
    public static JsonObject? Run(BenchOptions options)
    {
        if (Environment.UserName != "root")
        {
            Console.WriteLine("kernel: skipped, needs root (it creates a network namespace)");
            return null;
        }

        var ns = $"shpbench{Environment.ProcessId}";
        Exec("ip", "netns", "add", ns);
        try
        {
            var self = Environment.ProcessPath!;
            var args = new List<string> { "netns", "exec", ns, self };
            if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            {
                args.Add(typeof(KernelBenchmark).Assembly.Location);
            }

            args.AddRange(["--kernel-child", options.Quick ? "quick" : "full"]);
            var output = Exec("ip", [.. args]);
            var json = JsonNode.Parse(output.Split('\n').Last(l => l.StartsWith('{')))!.AsObject();
            Console.WriteLine($"kernel: 100,000 blocks loaded in {json["load_100k_ms"]} ms; one more block visible in p50 {json["add_one_p50_ms"]} ms, p99 {json["add_one_p99_ms"]} ms");
            Console.WriteLine($"        baseline, libnftables text: 100,000 in {json["baseline_libnftables_load_100k_ms"]} ms, one more p50 {json["baseline_libnftables_p50_ms"]} ms, p99 {json["baseline_libnftables_p99_ms"]} ms");
            Console.WriteLine($"        baseline, one nft process per block: p50 {json["baseline_nft_process_p50_ms"]} ms, p99 {json["baseline_nft_process_p99_ms"]} ms");
            return json;
        }
        finally
        {
            Exec("ip", "netns", "del", ns);
        }
    }

    /// <summary>The measuring child, already inside the namespace.</summary>
    public static int RunChild(bool quick)
    {
        using var nft = LibNftables.TryOpen() ?? throw new InvalidOperationException("libnftables.so.1 is missing");
        using var netlink = NftNetlink.TryOpen("shaper") ?? throw new InvalidOperationException("no netlink socket");

        // A second context for the checks, so that their cache of 100,000 elements never burdens the adds.
        using var checker = LibNftables.TryOpen()!;

        // libnftables' text path, then the daemon's (hosts over netlink), each on a fresh table, in the same run.
        var (textLoadMs, text) = Measure(new NftBackend(nft), checker, quick);
        var (loadMs, ours) = Measure(new NftBackend(nft, netlink), checker, quick);

        // The fail2ban way: one nft process per block, on a table of its own.
        var table = new NftBackend(nft);
        Check(table.Apply(Plan.EnforcementPlan.Compile(new Rules.ShaperConfig(), Rules.BackendKind.Nftables)));
        var process = new NftProcess();
        var baseline = new List<double>();
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < (quick ? 20 : 60); i++)
        {
            var address = Address(0x0C000000u + (uint)i);
            watch.Restart();
            Check(process.Run($"add element inet shaper block_v4 {{ {address} timeout 3600s }}\n").Ok ? null : "nft failed");
            baseline.Add(watch.Elapsed.TotalMilliseconds);
        }

        var result = new JsonObject
        {
            ["load_100k_ms"] = Math.Round(loadMs, 1),
            ["add_one_p50_ms"] = Math.Round(Percentile(ours, 0.50), 3),
            ["add_one_p99_ms"] = Math.Round(Percentile(ours, 0.99), 3),
            ["baseline_libnftables_load_100k_ms"] = Math.Round(textLoadMs, 1),
            ["baseline_libnftables_p50_ms"] = Math.Round(Percentile(text, 0.50), 3),
            ["baseline_libnftables_p99_ms"] = Math.Round(Percentile(text, 0.99), 3),
            ["baseline_nft_process_p50_ms"] = Math.Round(Percentile(baseline, 0.50), 3),
            ["baseline_nft_process_p99_ms"] = Math.Round(Percentile(baseline, 0.99), 3),
            ["mechanism"] = "hosts: one nfnetlink batch of NEWSETELEM messages per batch of blocks; rulesets and prefixes: libnftables in process",
        };
        table.Remove();
        Console.WriteLine(result.ToJsonString());
        return 0;
    }

    /// <summary>Loads 100,000 blocks into a fresh table, then times single adds on top, checking some are there.</summary>
    private static (double LoadMs, List<double> Adds) Measure(NftBackend backend, LibNftables checker, bool quick)
    {
        Check(backend.Apply(Plan.EnforcementPlan.Compile(new Rules.ShaperConfig(), Rules.BackendKind.Iptables)));
        backend.WarmUp();

        // Load: 100,000 distinct addresses in one batch, as re-asserting blocks after a restart does.
        var blocks = Enumerable.Range(0, 100_000).Select(i => (new IPNetwork(Address(0x0A000000u + (uint)i), 32), TimeSpan.FromHours(1))).ToList();
        var watch = Stopwatch.StartNew();
        Check(backend.AddBlocks(blocks));
        var loadMs = watch.Elapsed.TotalMilliseconds;

        // One more. The call returns once the kernel has acknowledged the committed batch, so the element is
        // in the set from then on; every tenth is also checked with `get element` after the clock stops.
        var adds = new List<double>();
        for (var i = 0; i < (quick ? 100 : 300); i++)
        {
            var address = Address(0x0B000000u + (uint)i);
            watch.Restart();
            Check(backend.AddBlocks([(new IPNetwork(address, 32), TimeSpan.FromHours(1))]));
            adds.Add(watch.Elapsed.TotalMilliseconds);
            if (i % 10 == 0)
            {
                Check(checker.Run($"get element inet shaper block_v4 {{ {address} }}\n").Ok ? null : $"{address} is not in the set after its add returned");
            }
        }

        backend.Remove();
        return (loadMs, adds);
    }

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    private static IPAddress Address(uint value) =>
        new([(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]);

    private static void Check(string? error)
    {
        if (error is not null)
        {
            throw new InvalidOperationException(error);
        }
    }

    private static string Exec(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)}: {error}");
        }

        return output.Result;
    }
}
