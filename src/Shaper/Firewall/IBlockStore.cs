using System.Net;

namespace Shaper.Firewall;

/// <summary>
/// Where the daemon keeps its blocks with their absolute expiry, so that they survive a restart and the kernel's
/// sets can be rebuilt after a flush. The block service records a block here only once the kernel holds it, and
/// takes it out only once the kernel no longer does, so the two never disagree. Thread-safe.
/// </summary>
public interface IBlockStore
{
    /// <summary>Blocks in force now.</summary>
    int Count { get; }

    /// <summary>Records a block of <paramref name="network"/> until <paramref name="expires"/>, replacing any earlier one of it.</summary>
    void Add(IPNetwork network, DateTimeOffset expires);

    /// <summary>Forgets a block; false when there was none.</summary>
    bool Remove(IPNetwork network);

    /// <summary>The blocks in force with the time each has left, soonest to end first.</summary>
    List<(IPNetwork Network, TimeSpan Left)> Active();

    /// <summary>Reads what an earlier run left.</summary>
    void Load();

    /// <summary>Writes what changed since the last call, if anything.</summary>
    void SaveIfChanged();
}
