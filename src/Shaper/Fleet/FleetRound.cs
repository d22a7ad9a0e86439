namespace Shaper.Fleet;

/// <summary>
/// One sync's outcome: whether the store answered (<see cref="Shared"/>: then the hosts' keys go by
/// <see cref="Grants"/>) or not (the round's hits wait for the next exchange), and whether the engines go by grants
/// (<see cref="ByGrants"/>: the store answered this round, or one failed round came within
/// <see cref="FleetSync.GraceSyncs"/> syncs of the last that did, with the breaker not open, so keys keep their
/// grants and a spent one waits for the next, or goes on at its last grant's rate once that is overdue) or every key
/// by this host's share. <see cref="Blocks"/> is the fleet's
/// block set when it changed since the host last read it (always on a host's first round that reaches the store);
/// <see cref="Published"/> the blocks this round published (the store took them, or refused those deleted since
/// they were decided: then they are not in <see cref="Blocks"/>).
/// </summary>
public sealed record FleetRound(bool Shared, IReadOnlyList<FleetGrant> Grants, int KeysSent, string? Error, bool ByGrants, IReadOnlyList<FleetBlock>? Blocks = null, IReadOnlyList<FleetBlock>? Published = null);
