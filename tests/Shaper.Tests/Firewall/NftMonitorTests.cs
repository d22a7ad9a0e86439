using System.Net;
using Shaper.Firewall;
using Shaper.Rules;
using Shaper.Tests.Lab;

namespace Shaper.Tests.Firewall;

/// <summary>nftables' change notifications, read by <see cref="NftMonitor"/> in a lab namespace: what others change is reported, by kind; the process's own changes are not.</summary>
public sealed class NftMonitorTests
{
    [RootFact]
    public void Drain_OthersTamperAndTheProcessItselfAddsBlocks_ReportsOnlyTheOthers()
    {
        using var lab = NetworkLab.Create();
        using var thread = new NamespaceThread(lab.B);
        var (own, element, flushedChain, deletedTable) = thread.Invoke(() =>
        {
            using var nft = LibNftables.TryOpen()!;
            using var netlink = NftNetlink.TryOpen("shaper")!;
            using var monitor = NftMonitor.TryOpen("shaper")!;
            var backend = new NftBackend(nft, netlink);
            Assert.Null(backend.Apply(Shaper.Plan.EnforcementPlan.Compile(new ShaperConfig(), BackendKind.Nftables)));
            Assert.Null(backend.AddBlocks([(IPNetwork.Parse("198.18.9.9/32"), TimeSpan.FromMinutes(5)), (IPNetwork.Parse("198.18.9.10/32"), TimeSpan.FromMinutes(5))]));
            var own = monitor.Drain();

            lab.Exec(lab.B, "nft", "delete", "element", "inet", "shaper", "block_v4", "{ 198.18.9.10 }").EnsureSuccess("deleting");
            var element = monitor.Drain();
            lab.Exec(lab.B, "nft", "flush", "chain", "inet", "shaper", "input").EnsureSuccess("flushing");
            var flushedChain = monitor.Drain();
            lab.Exec(lab.B, "nft", "delete", "table", "inet", "shaper").EnsureSuccess("deleting the table");
            return (own, element, flushedChain, monitor.Drain());
        });

        Assert.True(own.IsEmpty, string.Join(",", own.Kinds));
        Assert.Equal(["C612090A"], element.DeletedElements["block_v4"]);
        Assert.Empty(element.Kinds);
        Assert.Equal([NftChangeKind.ChainFlushed], flushedChain.Kinds);
        Assert.Equal([NftChangeKind.TableDeleted], deletedTable.Kinds);
    }

    [RootFact]
    public void Quietly_OwnBulkInstall_OverflowsNothingAndOthersAreHeardAfterwards()
    {
        const int Bulk = 200_000; // notifications for more than the monitor's 8 MB buffer
        using var lab = NetworkLab.Create();
        using var thread = new NamespaceThread(lab.B);
        var (loud, quiet, after) = thread.Invoke(() =>
        {
            using var nft = LibNftables.TryOpen()!;
            using var netlink = NftNetlink.TryOpen("shaper")!;
            using var monitor = NftMonitor.TryOpen("shaper")!;
            var backend = new NftBackend(nft, netlink);
            Assert.Null(backend.Apply(Shaper.Plan.EnforcementPlan.Compile(new ShaperConfig(), BackendKind.Nftables)));

            // Listening, the process's own bulk install overflows the buffer: its notifications are lost, and with
            // them what anyone else did meanwhile.
            Assert.Null(netlink.AddBlocks(Hosts(0, Bulk)));
            var loud = monitor.Drain();

            Assert.Null(monitor.Quietly(() => netlink.AddBlocks(Hosts(Bulk, Bulk))));
            var quiet = monitor.Drain();

            lab.Exec(lab.B, "nft", "delete", "element", "inet", "shaper", "block_v6", "{ 2001:db8:2::5 }").EnsureSuccess("deleting");
            return (loud, quiet, monitor.Drain());
        });

        Assert.Contains(NftChangeKind.Unknown, loud.Kinds);
        Assert.True(quiet.IsEmpty, string.Join(",", quiet.Kinds));
        Assert.Equal(["20010DB8000200000000000000000005"], after.DeletedElements["block_v6"]);
        Assert.Empty(after.Kinds);
    }

    private static List<(IPNetwork, TimeSpan)> Hosts(int from, int count)
    {
        var hosts = new List<(IPNetwork, TimeSpan)>(count);
        var address = IPAddress.Parse("2001:db8:2::").GetAddressBytes();
        for (var i = from; i < from + count; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(address.AsSpan(12), (uint)i);
            hosts.Add((new IPNetwork(new IPAddress(address), 128), TimeSpan.FromMinutes(5)));
        }

        return hosts;
    }
}
