namespace Shaper.Fleet;

/// <summary>
/// A block shared by the fleet: the network (CIDR text, as <see cref="System.Net.IPNetwork"/> writes it) and when the
/// block ends, Unix milliseconds. A host publishes the blocks its fleet rules decide; every host installs the fleet's.
/// </summary>
public readonly record struct FleetBlock(string Network, long EndsUnixMs);
