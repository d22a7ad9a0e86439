using Microsoft.Extensions.Logging;
using Shaper.Firewall;
using Shaper.Rules;

namespace Shaper.Daemon;

/// <summary>
/// Chooses the kernel backend <c>[daemon].backend</c> asks for from the features probed before start (auto:
/// nftables, iptables only when nft is unusable), logs each missing feature once, and opens it: libnftables in
/// process with netlink for blocks and change notifications where it can, else the nft program; iptables-nft.
/// </summary>
internal static class BackendChoice
{
    /// <summary>Opens the backend for <paramref name="asked"/>; a probe that says no is logged and the asked one tried anyway.</summary>
    public static KernelBackend Open(BackendKind asked, IReadOnlyList<Feature> features, ILogger logger, TimeProvider time)
    {
        foreach (var missing in features.Where(f => !f.Works))
        {
            Log.FeatureMissing(logger, missing.ToString());
        }

        // A probe can fail where the real thing works (no namespaces in a container): then try what was asked.
        var kind = FeatureProbe.Choose(asked, features, out var why);
        if (kind is null)
        {
            Log.BackendUnusable(logger, Choices.NameOf(Choices.Backend, asked), why);
        }

        return Resolve(asked, features) switch
        {
            BackendKind.Iptables => OpenIptables(time),
            _ => OpenNftables(),
        };
    }

    /// <summary>
    /// The backend <paramref name="asked"/> comes to: none stays none; auto is nftables, iptables only when nft is
    /// unusable; when the probe finds the asked one unusable it is tried anyway, auto as nftables. The daemon checks
    /// its rules against this backend before it opens it.
    /// </summary>
    public static BackendKind Resolve(BackendKind asked, IReadOnlyList<Feature> features) =>
        asked == BackendKind.None ? BackendKind.None
        : FeatureProbe.Choose(asked, features, out _) ?? (asked == BackendKind.Iptables ? BackendKind.Iptables : BackendKind.Nftables);

    private static KernelBackend OpenIptables(TimeProvider time)
    {
        var iptables = new IptablesBackend(new IptablesProcess(), time);
        return new KernelBackend(iptables, "iptables (hashlimit)", null, iptables);
    }

    private static KernelBackend OpenNftables()
    {
        const string table = "shaper";
        if (LibNftables.TryOpen() is not { } library)
        {
            return new KernelBackend(new NftBackend(new NftProcess()), "nftables (nft process)", null);
        }

        // Blocks skip nft's text parse over netlink when the socket opens; rulesets stay with libnftables.
        if (NftNetlink.TryOpen(table) is not { } netlink)
        {
            return new KernelBackend(new NftBackend(library), "nftables (libnftables)", null, library);
        }

        var monitor = NftMonitor.TryOpen(table);
        if (monitor is not null)
        {
            netlink.ListenedBy(monitor);
        }

        return new KernelBackend(new NftBackend(library, netlink), "nftables (libnftables, netlink blocks)", monitor, library, netlink);
    }
}
