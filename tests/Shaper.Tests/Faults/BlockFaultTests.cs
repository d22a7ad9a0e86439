using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Faults;

/// <summary>
/// Issue 14, items 1 and 2, reproduced against shaperd in a namespace lab: a block is acknowledged only once the
/// kernel holds it, overlapping prefix blocks each keep their own time to live, none makes another fail, a flush
/// of the ruleset brings every one of them back, and a shorter block of a network replaces the longer one.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class BlockFaultTests(ITestOutputHelper output)
{
    private const string KernelRule = """
        [[rule]]
        name = "web"
        match = { proto = "tcp", dport = [80] }
        rate = "100/s"
        burst = 50
        """;

    // Issue 14.1: the /24 inside a /16 was acknowledged, refused by the kernel ("interval overlaps"), and its
    // sources passed once the /16 ended.
    [RootFact]
    public async Task BlockAdd_PrefixInsideAShorterLivedPrefix_KeepsItsOwnTimeToLive()
    {
        using var lab = NetworkLab.Create();
        var probe = KernelProbe.Install(lab);
        using var daemon = DaemonProcess.Start(lab.B, KernelRule);

        var wide = await daemon.SendAsync("block.add", new() { ["address"] = "198.18.0.0/16", ["for"] = "2s" });
        Assert.True(wide.Ok, wide.Error);
        var started = DateTime.UtcNow;
        var narrow = await daemon.SendAsync("block.add", new() { ["address"] = "198.18.7.0/24", ["for"] = "10m" });
        Assert.True(narrow.Ok, narrow.Error);

        // After the /16 has ended: its other sources pass again, the /24's stay blocked.
        await Task.Delay(TimeSpan.FromSeconds(3) - (DateTime.UtcNow - started));
        Assert.Equal(0, probe.Through("198.18.7.5"));
        Assert.Equal(50, probe.Through("198.18.8.5"));
        var listed = (await daemon.SendAsync("block.list")).Result!["blocks"]!.AsArray().Select(b => b!.GetValue<string>()).ToList();
        Assert.Single(listed);
        Assert.StartsWith("198.18.7.0/24 expires in ", listed[0], StringComparison.Ordinal);
    }

    // Issue 14.1: with several prefix blocks, the re-install after `nft flush ruleset` was one failing transaction
    // and every prefix block was lost while the log said "re-installed".
    [RootFact]
    public async Task FlushRuleset_SeveralOverlappingPrefixBlocks_AllEnforcedAgainWithinTwoSeconds()
    {
        using var lab = NetworkLab.Create();
        var probe = KernelProbe.Install(lab);
        using var daemon = DaemonProcess.Start(lab.B, KernelRule);
        (string Block, string Source)[] blocks =
        [
            ("198.19.0.0/16", "198.19.3.3"),
            ("198.18.0.0/16", "198.18.9.9"),
            ("198.18.7.0/24", "198.18.7.5"),
            ("2001:db8:5::/48", "2001:db8:5::9"),
        ];
        foreach (var (block, _) in blocks)
        {
            var added = await daemon.SendAsync("block.add", new() { ["address"] = block, ["for"] = "10m" });
            Assert.True(added.Ok, $"{block}: {added.Error}");
        }

        probe.Nft("flush ruleset");
        var back = KernelProbe.Until(
            () => probe.Elements("block_v4_p16").Count == 2 && probe.Elements("block_v4_p24").Count == 1 && probe.Elements("block_v6_p48").Count == 1,
            TimeSpan.FromSeconds(2));
        output.WriteLine($"every prefix block back after {back?.TotalMilliseconds:F0} ms");
        Assert.True(back is not null, "the prefix blocks were not all back within 2 s: " + daemon.Log);
        probe.Reinstall();
        foreach (var (block, source) in blocks)
        {
            Assert.True(probe.Through(source) == 0, $"{source} passed although {block} is blocked");
        }
    }

    // Issue 14.1, the restart half: a restart re-installed overlapping prefixes in one transaction, which the
    // kernel refused whole ("interval overlaps"), so every prefix block was gone after it. Each keeps its own
    // time to live through kill -9 and a kernel that forgot everything (as after a reboot).
    [RootFact]
    public async Task KillNineAndRestart_OverlappingPrefixBlocks_AllBackWithTheirOwnTimeToLive()
    {
        using var lab = NetworkLab.Create();
        var probe = KernelProbe.Install(lab);
        var directory = Directory.CreateTempSubdirectory("shaper-restart-").FullName;
        try
        {
            (string Block, string Source, string Set, int Seconds)[] blocks =
            [
                ("198.18.0.0/16", "198.18.9.9", "block_v4_p16", 300),
                ("198.18.7.0/24", "198.18.7.5", "block_v4_p24", 1200),
                ("198.18.7.7", "198.18.7.7", "block_v4", 3600),
                ("2001:db8::/32", "2001:db8:9::9", "block_v6_p32", 300),
                ("2001:db8:5::/48", "2001:db8:5::9", "block_v6_p48", 1200),
            ];
            using (var daemon = DaemonProcess.Start(lab.B, KernelRule, directory: directory))
            {
                foreach (var (block, _, _, ttl) in blocks)
                {
                    var added = await daemon.SendAsync("block.add", new() { ["address"] = block, ["for"] = $"{ttl}s" });
                    Assert.True(added.Ok, $"{block}: {added.Error}");
                }

                daemon.Kill();
            }

            lab.Exec(lab.B, "nft", "delete", "table", "inet", "shaper").EnsureSuccess("deleting the table");
            using var restarted = DaemonProcess.Start(lab.B, KernelRule, directory: directory);
            foreach (var (block, source, set, seconds) in blocks)
            {
                var elements = probe.Elements(set);
                Assert.True(elements.Count == 1, $"{set} holds {elements.Count} elements after the restart, expected {block}: {restarted.Log}");
                Assert.InRange(elements.Values.Single(), seconds - 60, seconds); // its own time left, not the /16's
                Assert.True(probe.Through(source) == 0, $"{source} passed although {block} is blocked");
            }

            Assert.Contains("kernel: 5 blocks installed in", restarted.Log, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    // Issue 14.2: `--for 365d` then `--for 1ms` was acknowledged, dropped from the store at once, and the kernel
    // kept the 365-day element: traffic blocked, `block del` said "not blocked".
    [RootFact]
    public async Task BlockAdd_ShorterBlockOfABlockedHost_ReplacesItInTheKernel()
    {
        using var lab = NetworkLab.Create();
        var probe = KernelProbe.Install(lab);
        using var daemon = DaemonProcess.Start(lab.B, KernelRule);

        Assert.True((await daemon.SendAsync("block.add", new() { ["address"] = "198.18.50.1", ["for"] = "365d" })).Ok);
        Assert.True((await daemon.SendAsync("block.add", new() { ["address"] = "198.18.50.2", ["for"] = "365d" })).Ok);
        Assert.Equal(0, probe.Through("198.18.50.1"));

        // Below a second: the kernel takes milliseconds, so store and kernel both end it at once.
        var sub = await daemon.SendAsync("block.add", new() { ["address"] = "198.18.50.1", ["for"] = "1ms" });
        Assert.True(sub.Ok, sub.Error);

        // Shorter but still running: the kernel's element takes the new end.
        var shorter = await daemon.SendAsync("block.add", new() { ["address"] = "198.18.50.2", ["for"] = "30s" });
        Assert.True(shorter.Ok, shorter.Error);

        Assert.True(KernelProbe.Until(() => !probe.Elements("block_v4").ContainsKey("198.18.50.1"), TimeSpan.FromSeconds(2)) is not null, "the 365-day element outlived the 1 ms block");
        Assert.Equal(50, probe.Through("198.18.50.1"));
        Assert.InRange(probe.Elements("block_v4")["198.18.50.2"], 1, 30);
        Assert.False((await daemon.SendAsync("block.del", new() { ["address"] = "198.18.50.1" })).Ok);
        var listed = (await daemon.SendAsync("block.list")).Result!["blocks"]!.AsArray().Select(b => b!.GetValue<string>()).ToList();
        Assert.Single(listed);
        Assert.StartsWith("198.18.50.2/32 expires in ", listed[0], StringComparison.Ordinal);
    }

    // Issue 14 ("acknowledged means enforced"): a block the kernel refuses is refused to whoever asked, with the
    // kernel's reason, and neither the store nor the kernel holds it; the blocks beside it are not affected.
    [RootFact]
    public void AddAsync_KernelRefusesOneBlock_ThatCallerHearsWhyAndTheOthersAreIn()
    {
        using var lab = NetworkLab.Create();
        using var thread = new NamespaceThread(lab.B);
        var (refused, accepted, listed) = thread.Invoke(() =>
        {
            using var nft = Shaper.Firewall.LibNftables.TryOpen()!;
            using var netlink = Shaper.Firewall.NftNetlink.TryOpen("shaper")!;
            var backend = new Shaper.Firewall.NftBackend(nft, netlink);
            Assert.Null(backend.Apply(Shaper.Plan.EnforcementPlan.Compile(new Shaper.Rules.ShaperConfig(), Shaper.Rules.BackendKind.Nftables)));
            var store = new Shaper.Firewall.BlockStore(null, Shaper.Firewall.NftBlockSets.Size, TimeProvider.System);
            store.Open();
            using var blocks = new Shaper.Daemon.BlockService(backend, store, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, TimeProvider.System);

            // Past what the kernel's element timeout can hold (milliseconds counted in 64-bit nanoseconds: about 584 years).
            var tooLong = blocks.AddAsync(System.Net.IPNetwork.Parse("198.18.60.1/32"), TimeSpan.FromDays(1_000_000));
            var fine = blocks.AddAsync(System.Net.IPNetwork.Parse("198.18.60.2/32"), TimeSpan.FromMinutes(5));
            return (tooLong.GetAwaiter().GetResult(), fine.GetAwaiter().GetResult(), blocks.List());
        });

        Assert.NotNull(refused);
        Assert.StartsWith("the kernel refused the blocks: ", refused, StringComparison.Ordinal);
        Assert.Null(accepted);
        Assert.Equal(["198.18.60.2/32 expires in 300s"], listed);
        var probe = new KernelProbe(lab);
        Assert.Equal(["198.18.60.2"], probe.Elements("block_v4").Keys);
    }
}
