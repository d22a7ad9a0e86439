using Shaper.Engine;

namespace Shaper.Fleet;

/// <summary>
/// The store's answer for one key: how much this host may admit until its next exchange (<see cref="Allowance"/>,
/// its share of the room the fleet has left), that room (<see cref="Available"/>, negative when the fleet has
/// over-admitted) and the share (0 to 1, from this host's part of the fleet's demand).
/// </summary>
public readonly record struct FleetGrant(string Rule, HeldKey Key, double Allowance, double Available, double Share);
