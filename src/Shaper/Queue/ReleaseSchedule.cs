using System.Runtime.CompilerServices;

namespace Shaper.Queue;

/// <summary>
/// The held packets of one queue in departure order, across all its keys: a binary heap with room for a fixed number
/// allocated up front, so holding and releasing allocate nothing. Each key's departures are spaced by its rate, so
/// the heap interleaves the keys' FIFOs; two packets due at the same instant leave in either order. Not thread-safe:
/// the queue's worker owns it.
/// </summary>
internal sealed class ReleaseSchedule
{
    private readonly PriorityQueue<HeldPacket, long> _heap;

    /// <summary>A schedule holding at most <paramref name="capacity"/> packets.</summary>
    public ReleaseSchedule(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        Capacity = capacity;
        _heap = new PriorityQueue<HeldPacket, long>(capacity);
    }

    /// <summary>The most packets it holds.</summary>
    public int Capacity { get; }

    /// <summary>Packets held now.</summary>
    public int Count => _heap.Count;

    /// <summary>When the next packet departs; <see cref="long.MaxValue"/> when none is held.</summary>
    public long NextDepartureNs => _heap.TryPeek(out _, out var due) ? due : long.MaxValue;

    /// <summary>Holds <paramref name="packet"/> until its departure; false (nothing held) when the schedule is full.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryHold(in HeldPacket packet)
    {
        if (_heap.Count >= Capacity)
        {
            return false;
        }

        _heap.Enqueue(packet, packet.DepartureNs);
        return true;
    }

    /// <summary>Takes the next packet whose departure is at or before <paramref name="nowNs"/>; false when none is due.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryTakeDue(long nowNs, out HeldPacket packet)
    {
        if (_heap.TryPeek(out packet, out var due) && due <= nowNs)
        {
            _heap.Dequeue();
            return true;
        }

        packet = default;
        return false;
    }

    /// <summary>Takes the next packet whatever its departure (a graceful stop releases them all); false when empty.</summary>
    public bool TryTakeAny(out HeldPacket packet) => _heap.TryDequeue(out packet, out _);
}
