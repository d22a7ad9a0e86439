using System.Net;
using System.Text.Json.Nodes;
using Shaper.Firewall;
using Shaper.Plan;
using Shaper.Rules;
using Shaper.Tests.Lab;

namespace Shaper.Tests.Firewall;

/// <summary>Host blocks over netlink, against the real kernel in a lab namespace, read back with nft.</summary>
public sealed class NftNetlinkTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static IPNetwork V4(int i) => new(new IPAddress([198, 18, (byte)(100 + (i / 250)), (byte)(1 + (i % 250))]), 32);

    [RootFact]
    public void AddBlocks_HostsOverNetlink_LandInTheSetsWithTheirTimeouts()
    {
        using var lab = NetworkLab.Create();
        using var thread = new NamespaceThread(lab.B);
        var errors = thread.Invoke(() =>
        {
            using var nft = LibNftables.TryOpen()!;
            using var netlink = NftNetlink.TryOpen("shaper")!;
            var backend = new NftBackend(nft, netlink);
            var apply = backend.Apply(EnforcementPlan.Compile(new ShaperConfig(), BackendKind.Nftables));
            List<(IPNetwork, TimeSpan)> blocks =
            [
                .. Enumerable.Range(0, 2500).Select(i => (V4(i), TimeSpan.FromMinutes(10))), // three messages' worth
                (new IPNetwork(IPAddress.Parse("2001:db8::7"), 128), TimeSpan.FromMinutes(5)),
                (new IPNetwork(IPAddress.Parse("::ffff:198.18.200.9"), 128), TimeSpan.FromMinutes(5)), // mapped: an IPv4 block
                (new IPNetwork(IPAddress.Parse("198.18.64.0"), 24), TimeSpan.FromMinutes(5)), // a prefix: its own set
                (V4(3000), TimeSpan.Zero), // a block of no time: nothing
            ];
            // Straight over netlink (AddBlocks would fall back to nft text if netlink failed).
            var direct = netlink.AddBlocks([.. blocks.Take(2502)]);
            return (apply, direct, backend.AddBlocks(blocks), backend.AddBlocks(blocks)); // the last: all already there
        });

        Assert.Equal((null, null, null, null), errors);
        var v4 = Elements(lab, "block_v4");
        Assert.Equal(2501, v4.Count);
        Assert.Contains("198.18.200.9", v4.Keys);
        Assert.DoesNotContain("198.18.112.1", v4.Keys); // V4(3000)
        Assert.InRange(v4["198.18.100.1"], 590, 600);
        Assert.InRange(v4["198.18.200.9"], 290, 300);
        Assert.Equal(["2001:db8::7"], Elements(lab, "block_v6").Keys);
        Assert.Equal(["198.18.64.0"], Elements(lab, "block_v4_p24").Keys);
    }

    // The chain follows the ruleset generation through the daemon's own commits: each batch is committed only at the
    // chained generation and the kernel echoes the one it made; a refused batch leaves it; an apply through
    // libnftables is bracketed; another process's commit (here on a table of its own) ends it at the next batch,
    // which still goes in, without the chain.
    [RootFact]
    public void Chained_OwnCommitsCarryIt_AnotherProcessCommitEndsIt()
    {
        using var lab = NetworkLab.Create();
        using var thread = new NamespaceThread(lab.B);
        var steps = thread.Invoke(() =>
        {
            using var nft = LibNftables.TryOpen()!;
            using var netlink = NftNetlink.TryOpen("shaper")!;
            var backend = new NftBackend(nft, netlink);
            var plan = EnforcementPlan.Compile(new ShaperConfig(), BackendKind.Nftables);
            Assert.Null(backend.Apply(plan));
            Assert.Null(netlink.Chained); // nothing trusted yet
            var start = netlink.Generation()!.Value;
            netlink.Trust(start);
            var steps = new List<(string Step, uint? Chained, uint? Kernel)>();
            void Step(string step) => steps.Add((step, netlink.Chained, netlink.Generation()));

            Assert.Null(netlink.AddBlocks([(V4(1), TimeSpan.FromHours(1))]));
            Step("block");
            Assert.Null(netlink.AddBlocks([(V4(1), TimeSpan.FromHours(1))])); // the same again: its expiry renewed, a commit
            Step("renewal");
            Assert.NotNull(netlink.AddBlocks([(new IPNetwork(IPAddress.Parse("198.18.64.0"), 24), TimeSpan.FromHours(1))])); // no such set
            Step("refused");
            Assert.Null(backend.Apply(plan));
            Step("apply");
            Assert.Null(backend.RemoveBlock(V4(1)));
            Step("removal");
            lab.Exec(lab.B, "nft", "add", "table", "inet", "other").EnsureSuccess("another table");
            Step("foreign");
            Assert.Null(netlink.AddBlocks([(V4(2), TimeSpan.FromHours(1))]));
            Step("after");
            return (start, steps);
        });

        var (start, list) = steps;
        output.WriteLine(string.Join(", ", list.Select(s => $"{s.Step}: chained {s.Chained}, kernel {s.Kernel}")));
        Assert.Equal(("block", start + 1, start + 1), list[0]);
        Assert.Equal(("renewal", start + 2, start + 2), list[1]);
        Assert.Equal(("refused", start + 2, start + 2), list[2]);
        Assert.Equal(("apply", start + 3, start + 3), list[3]);
        Assert.Equal(("removal", start + 4, start + 4), list[4]);
        Assert.Equal(("foreign", start + 4, start + 5), list[5]);
        Assert.Equal(("after", null, start + 6), list[6]);
        Assert.Contains("198.18.100.3", Elements(lab, "block_v4").Keys); // V4(2)
    }

    // Adding a block again with the same time to live renews it: without the element's expiration in the message,
    // the kernel keeps an element's old expiry when its timeout is unchanged.
    [RootFact]
    public void AddBlocks_SameTimeToLiveAgain_RenewsTheExpiry()
    {
        using var lab = NetworkLab.Create();
        using var thread = new NamespaceThread(lab.B);
        thread.Invoke(() =>
        {
            using var nft = LibNftables.TryOpen()!;
            using var netlink = NftNetlink.TryOpen("shaper")!;
            Assert.Null(new NftBackend(nft, netlink).Apply(EnforcementPlan.Compile(new ShaperConfig(), BackendKind.Nftables)));
            Assert.Null(netlink.AddBlocks([(V4(1), TimeSpan.FromSeconds(60))]));
            return 0;
        });

        // Until the element has aged past a whole second in the kernel's listing (looked at for at most 20 s).
        var aged = false;
        for (var looking = System.Diagnostics.Stopwatch.StartNew(); !aged && looking.Elapsed < TimeSpan.FromSeconds(20);)
        {
            aged = Elements(lab, "block_v4")["198.18.100.2"] <= 58;
        }

        Assert.True(aged, "the element did not age");
        thread.Invoke(() =>
        {
            using var netlink = NftNetlink.TryOpen("shaper")!;
            Assert.Null(netlink.AddBlocks([(V4(1), TimeSpan.FromSeconds(60))]));
            return 0;
        });
        Assert.InRange(Elements(lab, "block_v4")["198.18.100.2"], 59, 60);
    }

    // Adopting a table left by a crash lists its objects, never its elements: nft lists a table with every set
    // element (a million: 90 s), so the adoption goes over netlink, which names what nft list table names.
    [RootFact]
    public void TableObjects_NamedSetsCountersAndLimits_NoElementsNoAnonymousSets()
    {
        using var lab = NetworkLab.Create();
        Run.Command("ip", ["netns", "exec", lab.B, "nft", "-f", "-"], """
            add table inet shaper
            add set inet shaper block_v4 { type ipv4_addr; flags timeout; }
            add element inet shaper block_v4 { 198.18.0.1 timeout 1h }
            add set inet shaper m_old_v4 { type ipv4_addr; }
            add counter inet shaper c_old_matched
            add limit inet shaper l_old { rate 10/second }
            add quota inet shaper q_old { over 1 mbytes }
            add chain inet shaper input { type filter hook input priority 0; }
            add rule inet shaper input ip saddr { 198.18.0.2, 198.18.0.3 } accept
            add table inet other
            add counter inet other c_elsewhere
            """).EnsureSuccess("creating the tables");
        using var thread = new NamespaceThread(lab.B);
        var (listed, gone) = thread.Invoke(() =>
        {
            using var netlink = NftNetlink.TryOpen("shaper")!;
            var listed = netlink.TableObjects();
            lab.Exec(lab.B, "nft", "delete", "table", "inet", "shaper").EnsureSuccess("deleting the table");
            return (listed, netlink.TableObjects());
        });

        Assert.NotNull(listed);
        Assert.True(listed.Value.Exists);
        Assert.Equal(
            ["counter c_old_matched", "limit l_old", "set block_v4", "set m_old_v4"],
            listed.Value.Objects.Select(o => $"{o.Kind} {o.Name}").Order(StringComparer.Ordinal));
        Assert.NotNull(gone);
        Assert.False(gone.Value.Exists);
        Assert.Empty(gone.Value.Objects);
    }

    [RootFact]
    public void AddBlocks_MoreThanOneSendHolds_AllLandInSeveralTransactions()
    {
        using var lab = NetworkLab.Create();
        using var thread = new NamespaceThread(lab.B);
        var errors = thread.Invoke(() =>
        {
            using var nft = LibNftables.TryOpen()!;
            using var netlink = NftNetlink.TryOpen("shaper")!;
            var apply = new NftBackend(nft).Apply(EnforcementPlan.Compile(new ShaperConfig(), BackendKind.Nftables));

            // 20,000 IPv6 hosts: 800 KB of messages, four times what one send may carry.
            var hosts = Enumerable.Range(0, 20_000).Select(i =>
                (new IPNetwork(new IPAddress([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte)(i >> 8), (byte)i]), 128), TimeSpan.FromMinutes(10))).ToList();
            return (apply, netlink.AddBlocks(hosts));
        });

        Assert.Equal((null, null), errors);
        Assert.Equal(20_000, Elements(lab, "block_v6").Count);
    }

    // The restart path with a full store: a million blocks back in the kernel. Prints the time; asserts only that all are in.
    [RootFact]
    public void AddBlocks_AMillionHosts_AllHeldByTheKernel()
    {
        using var lab = NetworkLab.Create();
        using var thread = new NamespaceThread(lab.B);
        var (apply, added, held, ms) = thread.Invoke(() =>
        {
            using var nft = LibNftables.TryOpen()!;
            using var netlink = NftNetlink.TryOpen("shaper")!;
            var backend = new NftBackend(nft, netlink);
            var apply = backend.Apply(EnforcementPlan.Compile(new ShaperConfig(), BackendKind.Nftables));
            var blocks = new List<(IPNetwork, TimeSpan)>(1_000_000);
            for (var i = 0; i < 1_000_000; i++)
            {
                blocks.Add((new IPNetwork(new IPAddress([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte)(i >> 16), (byte)(i >> 8), (byte)i]), 128), TimeSpan.FromMinutes(10)));
            }

            // The kernel's share runs in this thread's system calls: CPU time says what the work costs on a busy machine.
            var process = System.Diagnostics.Process.GetCurrentProcess();
            var (user, system) = (process.UserProcessorTime, process.PrivilegedProcessorTime);
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var added = backend.AddBlocks(blocks);
            process.Refresh();
            var ms = (watch.Elapsed.TotalMilliseconds, (process.UserProcessorTime - user).TotalMilliseconds, (process.PrivilegedProcessorTime - system).TotalMilliseconds);
            // A dump walks the set's hash table, and a walk that meets the table's background resize (it grows
            // while a million elements go in) can miss elements: what the kernel holds is what a later walk sees
            // (each walk of a million elements takes long enough for the resize to finish).
            int? held = null;
            for (var attempt = 0; attempt < 20 && held != 1_000_000; attempt++)
            {
                held = netlink.Elements("block_v6")?.Count;
                output.WriteLine($"dump {attempt + 1}: {held} elements");
            }

            return (apply, added, held, ms);
        });

        output.WriteLine($"1,000,000 host blocks installed over netlink in {ms.Item1:F0} ms (CPU: {ms.Item2:F0} ms user, {ms.Item3:F0} ms system, the kernel's work)");
        Assert.Null(apply);
        Assert.Null(added);
        Assert.Equal(1_000_000, held);
    }

    [RootFact]
    public void AddBlocks_KernelRefusesOverNetlink_SaysWhyWithoutAnNftTextRetry()
    {
        using var lab = NetworkLab.Create();
        using var thread = new NamespaceThread(lab.B);
        var (apply, added, fallbacks) = thread.Invoke(() =>
        {
            using var nft = LibNftables.TryOpen()!;
            using var netlink = NftNetlink.TryOpen("nosuch")!; // a table that is not there: every batch refused
            var backend = new NftBackend(nft, netlink);
            var apply = backend.Apply(EnforcementPlan.Compile(new ShaperConfig(), BackendKind.Nftables));
            var added = backend.AddBlocks([(V4(1), TimeSpan.FromMinutes(1)), (V4(2), TimeSpan.FromMinutes(1))]);
            return (apply, added, backend.NetlinkFallbacks);
        });

        Assert.Null(apply);
        Assert.StartsWith(NftNetlink.RefusedPrefix, added, StringComparison.Ordinal);
        Assert.Equal(0, fallbacks); // the kernel answered: nft text would be refused the same
        Assert.Empty(Elements(lab, "block_v4"));
    }

    [RootFact]
    public void AddBlocks_NoSuchTable_SaysWhyAndAddsNothing()
    {
        using var lab = NetworkLab.Create();
        using var thread = new NamespaceThread(lab.B);
        var error = thread.Invoke(() =>
        {
            using var netlink = NftNetlink.TryOpen("shaper")!;
            return netlink.AddBlocks([(V4(1), TimeSpan.FromMinutes(1))]);
        });

        Assert.StartsWith(NftNetlink.RefusedPrefix, error, StringComparison.Ordinal);
    }

    [RootFact]
    public void HasChain_BeforeApplyAfterApplyAndAfterAFlush_TellsWhatTheKernelHas()
    {
        using var lab = NetworkLab.Create();
        using var thread = new NamespaceThread(lab.B);
        var seen = thread.Invoke(() =>
        {
            using var nft = LibNftables.TryOpen()!;
            using var netlink = NftNetlink.TryOpen("shaper")!;
            var backend = new NftBackend(nft, netlink);
            var before = netlink.HasChain("reject_any");
            backend.Apply(EnforcementPlan.Compile(new ShaperConfig(), BackendKind.Nftables));
            var applied = (netlink.HasChain("reject_any"), netlink.HasChain("no_such_chain"), backend.IsInstalled());
            nft.Run("flush ruleset\n");
            return (before, applied, netlink.HasChain("reject_any"), backend.IsInstalled());
        });

        Assert.Equal((false, (true, false, true), false, false), seen);
    }

    [RootFact]
    public void WarmUp_SendsARealBatchTheKernelRefuses_AndChangesNothing()
    {
        using var lab = NetworkLab.Create();
        using var thread = new NamespaceThread(lab.B);
        var (apply, warmed) = thread.Invoke(() =>
        {
            using var nft = LibNftables.TryOpen()!;
            using var netlink = NftNetlink.TryOpen("shaper")!;
            var apply = new NftBackend(nft).Apply(EnforcementPlan.Compile(new ShaperConfig(), BackendKind.Nftables));
            return (apply, netlink.WarmUp());
        });

        Assert.Null(apply);
        Assert.True(warmed); // the kernel answered "no such set": the round trip ran, all of it
        Assert.Empty(Elements(lab, "block_v4"));
        Assert.Empty(Elements(lab, "block_v6"));
        Assert.DoesNotContain("warmup", lab.Exec(lab.B, "nft", "list", "ruleset").Output, StringComparison.Ordinal);
    }

    [RootFact]
    public void CounterPackets_NamedCounters_ReadOverNetlinkAsNftShowsThem()
    {
        using var lab = NetworkLab.Create();
        using var thread = new NamespaceThread(lab.B);
        var (empty, counters, blocks) = thread.Invoke(() =>
        {
            using var nft = LibNftables.TryOpen()!;
            using var netlink = NftNetlink.TryOpen("shaper")!;
            var before = netlink.CounterPackets(); // no table yet: an empty answer, not a failure
            new NftBackend(nft).Apply(EnforcementPlan.Compile(new ShaperConfig(), BackendKind.Nftables));
            nft.Run("add counter inet shaper c_web_matched { packets 42 bytes 4200 ; }\n"
                + "add counter inet shaper c_web_limited { packets 7 bytes 700 ; }\n"
                + "add counter inet shaper c_big { packets 5000000000 bytes 1 ; }\n");
            var blocks = netlink.AddBlocks([.. Enumerable.Range(0, 3000).Select(i => (V4(i), TimeSpan.FromMinutes(5)))]); // sets full of blocks beside
            return (before, netlink.CounterPackets(), blocks);
        });

        Assert.NotNull(empty);
        Assert.Empty(empty);
        Assert.Null(blocks);
        Assert.NotNull(counters);
        Assert.Equal(42, counters["c_web_matched"]);
        Assert.Equal(7, counters["c_web_limited"]);
        Assert.Equal(5_000_000_000, counters["c_big"]); // 64-bit, network order
        Assert.Equal(3, counters.Count);
    }

    /// <summary>A set's elements and the seconds each has left, from <c>nft -j</c>.</summary>
    private static Dictionary<string, long> Elements(NetworkLab lab, string set)
    {
        var json = JsonNode.Parse(lab.Exec(lab.B, "nft", "-j", "list", "set", "inet", "shaper", set).Output)!;
        var elements = new Dictionary<string, long>();
        foreach (var element in json["nftables"]![1]!["set"]!["elem"]?.AsArray() ?? [])
        {
            var elem = element!["elem"]!;
            elements[elem["val"]!.GetValue<string>()] = elem["expires"]!.GetValue<long>();
        }

        return elements;
    }
}
