namespace Shaper.Fleet;

/// <summary>
/// One sync's outcome: whether the store answered (then the hosts' keys go by <see cref="Grants"/>) or not (then
/// every key goes by this host's share, and the round's hits wait for the next exchange).
/// </summary>
public sealed record FleetRound(bool Shared, IReadOnlyList<FleetGrant> Grants, int KeysSent, string? Error);
