using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Shaper.Daemon;
using Shaper.Firewall;

namespace Shaper.Tests.Daemon;

/// <summary>The reconciler on a clock the test moves, over a fake kernel: it looks every 250 ms and repairs a deleted table. No root needed.</summary>
public sealed class KernelReconcilerTests
{
    [Fact]
    public async Task Timer_TableDeleted_ReinstalledWithTheStoredBlocksAndCounted()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var backend = new BlockServiceTests.FakeBackend();
        using var blocks = new BlockService(backend, new BlockStore(null, 10, time), NullLogger.Instance, time);
        blocks.Restore();
        Assert.Null(await blocks.AddAsync(IPNetwork.Parse("198.18.0.1/32"), TimeSpan.FromMinutes(10)));
        using var reconciler = new KernelReconciler(backend, null, blocks, NullLogger.Instance, time);
        reconciler.Start();

        time.Advance(TimeSpan.FromMilliseconds(249));
        backend.Installed = false; // someone ran nft flush ruleset
        Assert.Equal(0, backend.Reinstalls);

        time.Advance(TimeSpan.FromMilliseconds(1)); // the next look
        Assert.Equal(1, backend.Reinstalls);
        Assert.Equal(1, reconciler.Repairs["table"]);
        Assert.True(reconciler.Healthy);
        Assert.Equal(2, backend.Added.Count(n => n.Equals(IPNetwork.Parse("198.18.0.1/32")))); // added, then put back

        time.Advance(TimeSpan.FromSeconds(1)); // nothing differs: nothing more
        Assert.Equal(1, backend.Reinstalls);
    }

    [Fact]
    public void Reconcile_ReinstallFails_UnhealthyUntilARepairWorks()
    {
        var time = new FakeTimeProvider();
        var backend = new BlockServiceTests.FakeBackend { Installed = false, Refusal = "Error: Could not process rule: Operation not permitted" };
        using var blocks = new BlockService(backend, new BlockStore(null, 10, time), NullLogger.Instance, time);
        using var reconciler = new KernelReconciler(backend, null, blocks, NullLogger.Instance, time);

        reconciler.Reconcile();
        Assert.False(reconciler.Healthy);
        Assert.Equal(0, reconciler.Repairs["table"]);

        backend.Installed = false;
        backend.Refusal = null;
        reconciler.Reconcile();
        Assert.True(reconciler.Healthy);
        Assert.Equal(1, reconciler.Repairs["table"]);
    }
}
