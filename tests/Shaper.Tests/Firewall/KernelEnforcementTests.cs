using System.Diagnostics;
using System.Globalization;
using System.Net;
using Shaper.Firewall;
using Shaper.Plan;
using Shaper.Rules;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Firewall;

/// <summary>
/// The nftables backend against the real kernel, in namespaces these tests create: per-source limits for a
/// thousand sources, reloads, a broken ruleset, blocks with a TTL, a flushed ruleset, and a bystander table.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class KernelEnforcementTests(ITestOutputHelper output)
{
    private const int Sources = 1000;
    private const int PacketsPerSource = 200;
    private const long SpacingNs = 20_000_000; // 50 packets a second from each source
    private const int Rate = 10;
    private const int Burst = 50; // a sender stall shorter than burst ÷ rate (5 s) costs no tokens

    private static string Rules(int otherRate) => $$"""
        [[rule]]
        name = "udp-per-src"
        match = { proto = "udp", dport = [9000] }
        rate = "{{Rate}}/s"
        burst = {{Burst}}

        [[rule]]
        name = "other"
        match = { proto = "tcp", dport = [80] }
        rate = "{{otherRate}}/s"
        burst = 50
        """;

    private const string Bystander = """
        table inet bystander {
            set friends { type ipv4_addr; elements = { 192.0.2.7 } }
            chain forward {
                type filter hook forward priority 5; policy accept;
                ip saddr @friends accept
            }
        }
        """;

    [RootFact]
    public async Task PerSource_ThousandIPv4Sources_AcceptRateTimesTimePlusBurst() => await PerSourceAsync(v6: false, reloadMidway: false);

    [RootFact]
    public async Task PerSource_ThousandIPv6Sources_AcceptRateTimesTimePlusBurst() => await PerSourceAsync(v6: true, reloadMidway: false);

    [RootFact]
    public async Task PerSource_IptablesBackend_ThousandIPv4Sources_AcceptRateTimesTimePlusBurst() => await PerSourceAsync(v6: false, reloadMidway: false, backend: "iptables");

    [RootFact]
    public async Task PerSource_IptablesBackend_ThousandIPv6Sources_AcceptRateTimesTimePlusBurst() => await PerSourceAsync(v6: true, reloadMidway: false, backend: "iptables");

    // An unchanged rule keeps its hashlimit table name, so the reload hands no source a fresh burst.
    [RootFact]
    public async Task Reload_IptablesBackend_MidTrafficChangingAnotherRule_LeavesThisRulesCountsAlone() => await PerSourceAsync(v6: false, reloadMidway: true, backend: "iptables");

    [RootFact]
    public async Task Reload_MidTrafficChangingAnotherRule_LeavesThisRulesCountsAlone() => await PerSourceAsync(v6: false, reloadMidway: true);

    /// <summary>
    /// A meter element keeps the limit it was created with: a reload that changed a rule's limit but kept its set left
    /// every source already in it at the old limit (seen here: an element at 1/second burst 1 after the rule said 20/second
    /// burst 50). A changed limit now starts a new set; an unchanged one keeps its elements.
    /// </summary>
    [RootFact]
    public void Apply_ChangedLimit_NoSourceKeepsTheOldLimit()
    {
        using var lab = NetworkLab.Create();
        using var thread = new NamespaceThread(lab.B);
        var rule = "[[rule]]\nname = \"r\"\nmatch = { proto = \"udp\", dport = [9001] }\nrate = \"1/s\"\nburst = 1\n";
        var (backend, runner) = thread.Invoke(() =>
        {
            var nft = (INftRunner?)LibNftables.TryOpen() ?? new NftProcess();
            return (new NftBackend(nft), nft);
        });
        string Meter() => lab.Exec(lab.B, "nft", "list", "set", "inet", "shaper", "m_r_v4").Output;
        void Send()
        {
            var pcap = TempPcap("limit");
            TrafficPcap.Write(pcap, [new TrafficPcap.Udp(0, 0xC6120001, 9001)]);
            Assert.Equal(0, lab.Exec(lab.A, "tcpreplay", "-q", "-i", "va", pcap).ExitCode);
            File.Delete(pcap);
        }

        Assert.Null(thread.Invoke(() => backend.Apply(EnforcementPlan.Compile(ConfigLoader.Parse(rule, "t.toml").Config!, BackendKind.Nftables))));
        Send();
        Assert.Contains("198.18.0.1 limit rate over 1/second burst 1 packets", Meter(), StringComparison.Ordinal);

        // The same rule again: the source keeps its bucket.
        Assert.Null(thread.Invoke(() => backend.Apply(EnforcementPlan.Compile(ConfigLoader.Parse(rule, "t.toml").Config!, BackendKind.Nftables))));
        Assert.Contains("198.18.0.1 limit rate over 1/second burst 1 packets", Meter(), StringComparison.Ordinal);

        // A new limit: the source starts afresh under it.
        var changed = rule.Replace("1/s", "20/s", StringComparison.Ordinal).Replace("burst = 1", "burst = 50", StringComparison.Ordinal);
        Assert.Null(thread.Invoke(() => backend.Apply(EnforcementPlan.Compile(ConfigLoader.Parse(changed, "t.toml").Config!, BackendKind.Nftables))));
        Assert.DoesNotContain("1/second", Meter(), StringComparison.Ordinal);
        Send();
        Assert.Contains("198.18.0.1 limit rate over 20/second burst 50 packets", Meter(), StringComparison.Ordinal);
        thread.Invoke(() =>
        {
            (runner as IDisposable)?.Dispose();
            return 0;
        });
    }

    [RootFact]
    public void Apply_BrokenRuleset_LeavesThePreviousOneEnforcedAndSaysWhy()
    {
        using var lab = NetworkLab.Create();
        using var thread = new NamespaceThread(lab.B);
        var good = ConfigLoader.Parse(Rules(100), "t.toml").Config!;
        var (backend, runner) = thread.Invoke(() =>
        {
            var nft = (INftRunner?)LibNftables.TryOpen() ?? new NftProcess();
            return (new NftBackend(nft), nft);
        });
        Assert.Null(thread.Invoke(() => backend.Apply(EnforcementPlan.Compile(good, BackendKind.Nftables))));
        var before = lab.Exec(lab.B, "nft", "list", "table", "inet", "shaper").Output;

        // A rule the validator would never let through (a space in its name) makes nft refuse the script.
        var broken = good with { Rules = [.. good.Rules, good.Rules[0] with { Name = "bad name" }] };
        var error = thread.Invoke(() => backend.Apply(EnforcementPlan.Compile(broken, BackendKind.Nftables)));

        Assert.NotNull(error);
        Assert.StartsWith("nft refused the ruleset: ", error);
        Assert.Equal(before, lab.Exec(lab.B, "nft", "list", "table", "inet", "shaper").Output);
        thread.Invoke(() =>
        {
            (runner as IDisposable)?.Dispose();
            return 0;
        });
    }

    [RootTheory]
    [InlineData("nftables")] // the kernel expires the set element
    [InlineData("iptables")] // the backend deletes the DROP rule when its time to live is over
    public async Task Block_WithTtl_DropsForItsTtlThenLetsTrafficBack(string backend)
    {
        using var lab = NetworkLab.Create();
        Tally.Install(lab, 9001, priority: backend == "iptables" ? 10 : 0);
        using var daemon = DaemonProcess.Start(lab.B, Rules(100), $"backend = \"{backend}\"");
        var pcap = TempPcap("block");
        var sent = TempPcap("block-sent");
        const long source = 0xC612C801; // 198.18.200.1
        TrafficPcap.Write(pcap, Enumerable.Range(0, 500).Select(k => new TrafficPcap.Udp(k * 10_000_000L, source, 9001)));
        try
        {
            long askedNs, acknowledgedNs;
            using (SenderCapture.Start(lab, sent, "udp and dst port 9001"))
            {
                using var replay = StartReplay(lab, pcap);
                await Task.Delay(1000);
                askedNs = UnixNs();
                var blocked = await daemon.SendAsync("block.add", new() { ["address"] = "198.18.200.1", ["for"] = "2s" });
                acknowledgedNs = UnixNs();
                Assert.True(blocked.Ok, blocked.Error);
                Assert.True(replay.WaitForExit(30_000));
            }

            // 100 packets a second for 5 s, 2 s of them blocked: about 200 dropped and 300 through when the sender keeps
            // its pace. A loaded machine slows the sender, so the expectation comes from when each packet really left:
            // the block began between the request and its acknowledgement and lasted 2 s, so at least the packets sent
            // from the acknowledgement to 2 s after the request were dropped, and at most those from the request to 2 s
            // after the acknowledgement (each edge give or take 10 ms: the kernel's and the backend's timer).
            var times = SourceTimes(sent).GetValueOrDefault("198.18.200.1") ?? [];
            const long Ttl = 2_000_000_000, Edge = 10_000_000;
            var surelyDropped = times.Count(t => t >= acknowledgedNs + Edge && t < askedNs + Ttl - Edge);
            var maybeDropped = times.Count(t => t >= askedNs - Edge && t < acknowledgedNs + Ttl + Edge);
            var through = Tally.Read(lab).GetValueOrDefault("198.18.200.1");
            output.WriteLine($"{backend}: through {through} of {times.Count} sent; the block took {(acknowledgedNs - askedNs) / 1e6:F1} ms to acknowledge; expected {times.Count - maybeDropped}..{times.Count - surelyDropped}");
            Assert.Equal(500, times.Count);
            Assert.InRange(through, times.Count - maybeDropped, times.Count - surelyDropped);
            Assert.True(through < times.Count, "nothing was dropped");
        }
        finally
        {
            File.Delete(pcap);
            File.Delete(sent);
        }
    }

    /// <summary>Each source's packets as they left the sender (Unix ns), by address.</summary>
    private static Dictionary<string, List<long>> SourceTimes(string path)
    {
        var times = new Dictionary<string, List<long>>(StringComparer.Ordinal);
        using var source = Shaper.Replay.ReplaySources.Open(path);
        while (source.TryRead(out var packet))
        {
            var address = Format(packet.Source, packet.Family == Shaper.Packets.IpFamily.V6);
            (times.TryGetValue(address, out var list) ? list : times[address] = []).Add(packet.TimestampNs);
        }

        return times;
    }

    /// <summary>What a bucket of <paramref name="burst"/> packets refilled at <paramref name="rate"/> a second accepts of these arrivals.</summary>
    private static int BucketAccepts(List<long> arrivalsNs, int rate, int burst)
    {
        double tokens = burst;
        var last = arrivalsNs.Count > 0 ? arrivalsNs[0] : 0;
        var accepted = 0;
        foreach (var t in arrivalsNs)
        {
            tokens = Math.Min(burst, tokens + (Math.Max(0, t - last) * rate / 1e9));
            last = Math.Max(last, t);
            if (tokens >= 1)
            {
                tokens -= 1;
                accepted++;
            }
        }

        return accepted;
    }

    private static long UnixNs() => (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;

    [RootTheory]
    [InlineData("nftables")]
    [InlineData("iptables")] // a flushed ruleset takes iptables-nft's table filter with it
    public async Task FlushRuleset_ShaperRulesAreBackWithinTwoSeconds(string backend)
    {
        using var lab = NetworkLab.Create();
        using var daemon = DaemonProcess.Start(lab.B, Rules(100), $"backend = \"{backend}\"");
        var block = await daemon.SendAsync("block.add", new() { ["address"] = "198.18.9.9", ["for"] = "10m" });
        Assert.True(block.Ok, block.Error);
        await Task.Delay(200);

        ProcessResult Listing() => backend == "iptables"
            ? lab.Exec(lab.B, "iptables-save", "-t", "filter")
            : lab.Exec(lab.B, "nft", "list", "table", "inet", "shaper");
        lab.Exec(lab.B, "nft", "flush", "ruleset").EnsureSuccess("flushing");
        var watch = Stopwatch.StartNew();
        while (!Listing().Output.Contains(backend == "iptables" ? "-A SHAPER-BLOCK -s 198.18.9.9/32 -j DROP" : "198.18.9.9", StringComparison.Ordinal))
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), "the rules and their blocks were not back within 2 s");
            await Task.Delay(20);
        }

        output.WriteLine($"{backend}: re-installed with its blocks after {watch.ElapsedMilliseconds} ms");
        Assert.Contains("udp-per-src", Listing().Output, StringComparison.Ordinal);
    }

    [RootFact]
    public async Task Stop_RemovesTheTableAndLeavesOtherTablesByteForByte()
    {
        using var lab = NetworkLab.Create();
        Run.Command("ip", ["netns", "exec", lab.B, "nft", "-f", "-"], Bystander).EnsureSuccess("installing the bystander");
        var before = lab.Exec(lab.B, "nft", "list", "table", "inet", "bystander").Output;
        using (var daemon = DaemonProcess.Start(lab.B, Rules(100)))
        {
            Assert.True((await daemon.SendAsync("block.add", new() { ["address"] = "198.18.9.0/24", ["for"] = "1m" })).Ok);
            File.WriteAllText(Path.Combine(daemon.Directory, "shaper.toml"), File.ReadAllText(Path.Combine(daemon.Directory, "shaper.toml")).Replace("100/s", "200/s", StringComparison.Ordinal));
            Assert.True((await daemon.SendAsync("reload")).Ok);
            Assert.True(daemon.Stop() < TimeSpan.FromSeconds(5), "SIGTERM took 5 s or more");
        }

        Assert.Equal(before, lab.Exec(lab.B, "nft", "list", "table", "inet", "bystander").Output);
        Assert.False(lab.Exec(lab.B, "nft", "list", "table", "inet", "shaper").ExitCode == 0, "the shaper's table outlived the daemon");
    }

    /// <summary>
    /// <paramref name="backend"/> "iptables" runs the same traffic through the iptables backend (hashlimit),
    /// whose chains hook in filter at priority 0: the tally then counts after them, at 10.
    /// </summary>
    private async Task PerSourceAsync(bool v6, bool reloadMidway, string backend = "nftables")
    {
        using var lab = NetworkLab.Create();
        Tally.Install(lab, priority: backend == "iptables" ? 10 : 0);
        Run.Command("ip", ["netns", "exec", lab.B, "nft", "-f", "-"], Bystander).EnsureSuccess("installing the bystander");
        var bystander = lab.Exec(lab.B, "nft", "list", "table", "inet", "bystander").Output;
        using var daemon = DaemonProcess.Start(lab.B, Rules(100), $"backend = \"{backend}\"");

        // Source s sends its k-th packet at k × 20 ms + s × 20 µs: 50 packets a second each, interleaved.
        var pcap = TempPcap(v6 ? "v6" : "v4");
        TrafficPcap.Write(pcap, Enumerable.Range(0, PacketsPerSource).SelectMany(k => Enumerable.Range(0, Sources).Select(s =>
            new TrafficPcap.Udp((k * SpacingNs) + (s * 20_000L), SourceOf(s, v6), 9000, v6))));
        var sent = TempPcap(v6 ? "v6-sent" : "v4-sent");
        try
        {
            using (SenderCapture.Start(lab, sent))
            {
                using var replay = StartReplay(lab, pcap);
                if (reloadMidway)
                {
                    await Task.Delay(2000);
                    var path = Path.Combine(daemon.Directory, "shaper.toml");
                    File.WriteAllText(path, File.ReadAllText(path).Replace("100/s", "300/s", StringComparison.Ordinal));
                    var reload = await daemon.SendAsync("reload");
                    Assert.True(reload.Ok, reload.Error);
                }

                Assert.True(replay.WaitForExit(60_000), "tcpreplay did not finish");
            }

            var counts = Tally.Read(lab);

            // nft's packet bucket (and hashlimit's) holds `burst` packets and refills at `rate`: over a steady span T it
            // accepts R·T + B − 1 (measured: 549 for 100/s, burst 50, 5 s). The sender on a shared 2-core machine is not
            // steady (tcpreplay falls behind the file's timing, in bursts and stalls, and a stall longer than B ÷ R
            // wastes tokens), so each source's expectation is that bucket run over its packets as they left the sender.
            var sentTimes = SourceTimes(sent);
            var accepted = Enumerable.Range(0, Sources).Select(s =>
            {
                var address = Format(SourceOf(s, v6), v6);
                var expected = (double)BucketAccepts(sentTimes.GetValueOrDefault(address) ?? [], Rate, Burst);
                return (Address: address, Count: counts.GetValueOrDefault(address), Expected: expected, Allowed: Math.Max(2, expected * 0.02));
            }).ToList();
            var worst = accepted.Max(a => Math.Abs(a.Count - a.Expected));
            output.WriteLine($"{backend}: {Sources} sources, {sentTimes.Count} seen leaving, over {accepted.Min(a => a.Expected):F1}..{accepted.Max(a => a.Expected):F1} expected, accepted {accepted.Min(a => a.Count)}..{accepted.Max(a => a.Count)}, worst deviation {worst:F1}");
            Assert.Equal(Sources, sentTimes.Count);
            foreach (var (address, count, expected, allowed) in accepted)
            {
                Assert.True(Math.Abs(count - expected) <= allowed, $"{address}: {count} accepted, expected {expected:F1} ± {allowed:F1}; {accepted.Count(a => Math.Abs(a.Count - a.Expected) > a.Allowed)} of {Sources} outside");
            }

            Assert.Equal(bystander, lab.Exec(lab.B, "nft", "list", "table", "inet", "bystander").Output);
        }
        finally
        {
            File.Delete(pcap);
            File.Delete(sent);
        }
    }

    private static UInt128 SourceOf(int s, bool v6) =>
        v6 ? ((UInt128)0x20010db8 << 96) | (uint)(0x1000 + s) : 0xC6120000u + (uint)(256 + s);

    private static string Format(UInt128 address, bool v6)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (!v6)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)address);
            return new IPAddress(bytes[..4]).ToString();
        }

        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(bytes, address);
        return new IPAddress(bytes).ToString();
    }

    private static string TempPcap(string name) =>
        Path.Combine(Path.GetTempPath(), string.Create(CultureInfo.InvariantCulture, $"shaper-{name}-{Environment.ProcessId}-{Random.Shared.Next()}.pcap"));

    private static Process StartReplay(NetworkLab lab, string pcap)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "netns", "exec", lab.A, "tcpreplay", "-i", "va", pcap })
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start)!;
        process.StandardError.ReadToEndAsync();
        return process;
    }
}
