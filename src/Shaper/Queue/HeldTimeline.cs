namespace Shaper.Queue;

/// <summary>
/// <c>[daemon] max_held</c> in packet time, for a replay: the packets every queue rule holds at a moment, each from its
/// arrival to its departure slot, and no more than <see cref="Capacity"/> at once. The daemon's queues take a unit of
/// their shared budget (<see cref="HeldBudget"/>) for each packet they hold and give it back at its verdict; a replay,
/// which gives no verdicts, counts the departures that came by each arrival instead, so an arrival it holds beyond the
/// cap is dropped as the daemon drops it. Arrivals come in timestamp order, on one thread.
/// </summary>
public sealed class HeldTimeline(int capacity)
{
    private readonly PriorityQueue<long, long> _departures = new();

    /// <summary>The most packets held at once.</summary>
    public int Capacity { get; } = capacity;

    /// <summary>
    /// Holds a packet that arrived at <paramref name="nowNs"/> until <paramref name="departureNs"/>, after letting go of
    /// every packet due by <paramref name="nowNs"/>; false, holding nothing, when <see cref="Capacity"/> are held.
    /// </summary>
    public bool TryHold(long nowNs, long departureNs)
    {
        while (_departures.TryPeek(out _, out var due) && due <= nowNs)
        {
            _departures.Dequeue();
        }

        if (_departures.Count >= Capacity)
        {
            return false;
        }

        _departures.Enqueue(departureNs, departureNs);
        return true;
    }
}
