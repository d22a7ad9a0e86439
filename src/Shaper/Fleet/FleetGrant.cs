using Shaper.Engine;

namespace Shaper.Fleet;

/// <summary>
/// The store's answer for one key: how much this host may admit until its next exchange (<see cref="Allowance"/>,
/// its share of the room the fleet has left), that room (<see cref="Available"/>, negative when the fleet has
/// over-admitted), the share (0 to 1, from this host's part of the fleet's demand), and what every host has admitted
/// for the key as the store counted it (<see cref="FleetAdmitted"/>: the hits sent, since the store's state of the key
/// was created; it expires when the key is idle).
/// </summary>
public readonly record struct FleetGrant(string Rule, HeldKey Key, double Allowance, double Available, double Share, double FleetAdmitted = 0);
