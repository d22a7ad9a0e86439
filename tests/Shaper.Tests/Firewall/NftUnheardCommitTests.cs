using System.Net;
using Shaper.Firewall;
using Shaper.Interop;
using Shaper.Rules;
using Shaper.Tests.Lab;

namespace Shaper.Tests.Firewall;

/// <summary>
/// The daemon's own block batches committed while its monitor does not listen (<see cref="NftNetlink.ListenedBy"/>),
/// in a lab namespace against the real kernel: the monitor gets nothing for them, and nothing another process commits
/// goes unreported, whether it came before the batch, in the window, or after.
/// </summary>
public sealed class NftUnheardCommitTests
{
    [RootFact]
    public void AddBlocks_AfterItsOwnLastCommit_MonitorGetsNothingForThemAndHearsOthersAfterwards()
    {
        using var lab = NetworkLab.Create();
        using var thread = new NamespaceThread(lab.B);
        var (loudPending, quietPending, quiet, after) = thread.Invoke(() =>
        {
            using var table = Table.Applied();
            var (netlink, monitor) = (table.Netlink, table.Monitor);

            // The ruleset's last commit was libnftables' apply, not a batch of this socket, and the monitor has not read
            // it yet: the batch is heard (the kernel sends the monitor its notifications), and its echo tells the socket
            // its generation.
            Assert.Null(netlink.AddBlocks(Hosts(0, 500)));
            var loudPending = table.Pending();
            Assert.True(monitor.Drain().IsEmpty);

            Assert.Null(netlink.AddBlocks(Hosts(500, 1000)));
            var quietPending = table.Pending();
            var quiet = monitor.Drain();

            lab.Exec(lab.B, "nft", "delete", "element", "inet", "shaper", "block_v4", "{ 198.18.2.0 }").EnsureSuccess("deleting");
            return (loudPending, quietPending, quiet, monitor.Drain());
        });

        Assert.True(loudPending, "the first batch should have been heard");
        Assert.False(quietPending, "the kernel sent the monitor something for a batch right after the socket's own");
        Assert.True(quiet.IsEmpty, string.Join(",", quiet.Kinds));
        Assert.Equal(["C6120200"], after.DeletedElements["block_v4"]);
        Assert.Empty(after.Kinds);
    }

    [RootFact]
    public void AddBlocks_MonitorHasReadTheLastCommit_FirstBatchIsUnheard()
    {
        using var lab = NetworkLab.Create();
        using var thread = new NamespaceThread(lab.B);
        var (pending, changes) = thread.Invoke(() =>
        {
            using var table = Table.Applied();
            var (netlink, monitor) = (table.Netlink, table.Monitor);
            Assert.True(monitor.Drain().IsEmpty); // the apply's notifications, read: the daemon's first attack after its start

            Assert.Null(netlink.AddBlocks(Hosts(0, 1000)));
            return (table.Pending(), monitor.Drain());
        });

        Assert.False(pending, "the kernel sent the monitor something for the first batch");
        Assert.True(changes.IsEmpty, string.Join(",", changes.Kinds));
    }

    [RootFact]
    public void AddBlocks_AnotherProcessCommitsWhileTheMonitorDoesNotListen_MonitorReportsUnknownAtOnce()
    {
        using var lab = NetworkLab.Create();
        using var thread = new NamespaceThread(lab.B);
        var (woke, changes, deleted) = thread.Invoke(() =>
        {
            using var table = Table.Applied();
            var (netlink, monitor) = (table.Netlink, table.Monitor);
            Assert.Null(netlink.AddBlocks(Hosts(0, 100)));
            Assert.True(monitor.Drain().IsEmpty);

            // Right after the batch commits, before the monitor listens again, another process deletes a block.
            var once = 0;
            netlink.WhileUnheard = () =>
            {
                if (Interlocked.Exchange(ref once, 1) == 0)
                {
                    lab.Exec(lab.B, "nft", "delete", "element", "inet", "shaper", "block_v4", "{ 198.18.0.7 }").EnsureSuccess("deleting");
                }
            };
            Assert.Null(netlink.AddBlocks(Hosts(100, 100)));
            var woke = monitor.Wait(TimeSpan.FromSeconds(5), table.Wake);
            var changes = monitor.Drain();
            var deleted = !netlink.Elements("block_v4")!.Contains("C6120007");
            return (woke, changes, deleted);
        });

        // The deletion itself was never heard (its notification went to no one), so only Unknown can report it.
        Assert.True(deleted);
        Assert.True(woke, "the monitor's wait should end at once");
        Assert.Contains(NftChangeKind.Unknown, changes.Kinds);
        Assert.False(changes.DeletedElements.ContainsKey("block_v4"));
    }

    [RootFact]
    public void AddBlocks_AnotherProcessCommittedSinceTheLastOwnBatch_NextBatchIsHeardAndTheOneAfterUnheard()
    {
        using var lab = NetworkLab.Create();
        using var thread = new NamespaceThread(lab.B);
        var (changes, heardPending, unheardPending) = thread.Invoke(() =>
        {
            using var table = Table.Applied();
            var (netlink, monitor) = (table.Netlink, table.Monitor);
            Assert.Null(netlink.AddBlocks(Hosts(0, 100)));
            Assert.True(monitor.Drain().IsEmpty);

            lab.Exec(lab.B, "nft", "delete", "element", "inet", "shaper", "block_v4", "{ 198.18.0.9 }").EnsureSuccess("deleting");
            Assert.Null(netlink.AddBlocks(Hosts(100, 100)));
            var heardPending = table.Pending();
            var changes = monitor.Drain();
            Assert.Null(netlink.AddBlocks(Hosts(200, 100)));
            return (changes, heardPending, table.Pending());
        });

        Assert.True(heardPending);
        Assert.Equal(["C6120009"], changes.DeletedElements["block_v4"]);
        Assert.Empty(changes.Kinds);
        Assert.False(unheardPending, "the batch after the heard one should be unheard again");
    }

    [Theory]
    [InlineData(0, 7u, 8u, 8u, true)] // committed right after generation 7, nothing after it
    [InlineData(0, 7u, null, 7u, true)] // changed nothing
    [InlineData(0, 7u, 8u, 9u, false)] // another commit before the monitor listened again
    [InlineData(0, 7u, 8u, null, false)] // no generation read
    [InlineData(85, 7u, null, 8u, false)] // ERESTART: another commit came first
    [InlineData(17, 7u, null, 7u, true)] // refused (EEXIST): aborted
    [InlineData(17, 7u, null, 8u, false)]
    [InlineData(-1, 7u, null, 7u, false)] // no answer
    public void OnlyItselfUnheard_ByAnswerAndGenerations(int answer, uint before, uint? echoed, uint? now, bool expected) =>
        Assert.Equal(expected, NftNetlink.OnlyItselfUnheard(answer, before, echoed, now));

    private static List<(IPNetwork, TimeSpan)> Hosts(int from, int count)
    {
        var hosts = new List<(IPNetwork, TimeSpan)>(count);
        for (var i = from; i < from + count; i++)
        {
            hosts.Add((new IPNetwork(new IPAddress([198, 18, (byte)(i >> 8), (byte)i]), 32), TimeSpan.FromMinutes(5)));
        }

        return hosts;
    }

    /// <summary>The shaper's table applied in the caller's namespace, its netlink socket listened to by its monitor.</summary>
    private sealed class Table : IDisposable
    {
        private readonly LibNftables _nft;

        private Table(LibNftables nft, NftNetlink netlink, NftMonitor monitor)
        {
            _nft = nft;
            Netlink = netlink;
            Monitor = monitor;
        }

        public NftNetlink Netlink { get; }

        public NftMonitor Monitor { get; }

        public WakeEvent Wake { get; } = new();

        public static Table Applied()
        {
            var table = new Table(LibNftables.TryOpen()!, NftNetlink.TryOpen("shaper")!, NftMonitor.TryOpen("shaper")!);
            Assert.Null(new NftBackend(table._nft, table.Netlink).Apply(Shaper.Plan.EnforcementPlan.Compile(new ShaperConfig(), BackendKind.Nftables)));
            table.Netlink.ListenedBy(table.Monitor);
            return table;
        }

        /// <summary>Whether the monitor has a notification to read now.</summary>
        public bool Pending() => Monitor.Wait(TimeSpan.Zero, Wake);

        public void Dispose()
        {
            Wake.Dispose();
            Monitor.Dispose();
            Netlink.Dispose();
            _nft.Dispose();
        }
    }
}
