using Shaper.Engine;

namespace Shaper.Fleet;

/// <summary>
/// What one host saw of one key of a fleet rule since its last exchange with the store: <see cref="Hits"/> it
/// admitted by the store's grants (packets, or bytes for a byte rate), which the store charges, and
/// <see cref="Demand"/> it was offered (admitted or not), from which the store computes the host's share of the key's
/// room. <see cref="Carried"/> are hits the host admitted under its share while the store was away, which the store
/// records (so the outage's counts reach it) but a bucket does not charge: it refilled for every host meanwhile, and
/// the shares sum to its rate.
/// </summary>
public readonly record struct FleetDelta(string Rule, HeldKey Key, long Hits, long Demand, long Carried = 0);
