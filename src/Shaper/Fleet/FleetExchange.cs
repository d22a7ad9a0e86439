namespace Shaper.Fleet;

/// <summary>
/// One exchange's answer from the store: a grant per key sent, the version of the fleet's block set, and the set
/// itself (the blocks not yet ended) when its version differed from the one the host knew, else null.
/// </summary>
public sealed record FleetExchange(IReadOnlyList<FleetGrant> Grants, long BlocksVersion, IReadOnlyList<FleetBlock>? Blocks);
