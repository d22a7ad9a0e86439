namespace Shaper.Fleet;

/// <summary>
/// A block shared by the fleet: the network (CIDR text, as <see cref="System.Net.IPNetwork"/> writes it) and when the
/// block ends, Unix milliseconds. A host publishes the blocks its fleet rules decide, with when it decided each
/// (<see cref="DecidedUnixMs"/>; 0: when it is published), so that a block deleted in the fleet after it was decided
/// is not published again; every host installs the fleet's, read with the host that published each (<see cref="Origin"/>).
/// </summary>
public readonly record struct FleetBlock(string Network, long EndsUnixMs, string Origin = "", long DecidedUnixMs = 0);
