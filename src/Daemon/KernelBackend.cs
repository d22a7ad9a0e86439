using Shaper.Firewall;

namespace Shaper.Daemon;

/// <summary>
/// The kernel front end the daemon runs on, with what it owns: the backend, its name for status, and the
/// netlink sockets and library context behind it (disposed with it). <see cref="Monitor"/> is there only for
/// nftables with netlink.
/// </summary>
internal sealed class KernelBackend(IFirewallBackend backend, string name, NftMonitor? monitor, params IDisposable?[] owned) : IDisposable
{
    public IFirewallBackend Backend { get; } = backend;

    public string Name { get; } = name;

    /// <summary>nftables' change notifications for the table; null without netlink or on iptables.</summary>
    public NftMonitor? Monitor { get; } = monitor;

    public void Dispose()
    {
        Monitor?.Dispose();
        foreach (var resource in owned)
        {
            resource?.Dispose();
        }
    }
}
