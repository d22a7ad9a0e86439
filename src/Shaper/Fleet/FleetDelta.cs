using Shaper.Engine;

namespace Shaper.Fleet;

/// <summary>
/// What one host saw of one key of a fleet rule since its last exchange with the store: <see cref="Hits"/> it
/// admitted (packets, or bytes for a byte rate) and <see cref="Demand"/> it was offered (admitted or not), from
/// which the store computes the host's share of the key's room. <see cref="Carried"/> are hits of earlier rounds the
/// store did not get (it was away), which the host admitted under its share.
/// </summary>
public readonly record struct FleetDelta(string Rule, HeldKey Key, long Hits, long Demand, long Carried = 0);
