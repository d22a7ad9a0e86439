namespace Shaper.Queue;

/// <summary>A packet the queue holds: its kernel id, when it arrived and when it departs (monotonic nanoseconds).</summary>
internal readonly record struct HeldPacket(uint Id, long ArrivalNs, long DepartureNs);
