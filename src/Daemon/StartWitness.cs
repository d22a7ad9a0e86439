using Shaper.Firewall;

namespace Shaper.Daemon;

/// <summary>
/// The ruleset watched from before the feature probe (which commits an iptables chain of its own) until the kernel
/// start, so that a restart can still tell the table untouched since the last run (see <see cref="NftWitness"/>);
/// null without netlink.
/// </summary>
internal sealed class StartWitness(NftWitness? witness) : IDisposable
{
    public NftWitness? Witness { get; } = witness;

    public void Dispose() => Witness?.Dispose();
}
