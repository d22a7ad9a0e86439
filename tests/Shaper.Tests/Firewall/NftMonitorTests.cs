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
}
