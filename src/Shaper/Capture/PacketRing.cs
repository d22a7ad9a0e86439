using Shaper.Packets;

namespace Shaper.Capture;

/// <summary>
/// The bounded hand-off between the capture thread (one producer) and the engine thread (one consumer):
/// a lock-free single-producer single-consumer ring of parsed packets. When the engine falls behind, the
/// ring is full and new packets are dropped and counted instead of queueing without bound.
/// </summary>
public sealed class PacketRing
{
    private readonly PacketMeta[] _items;
    private readonly long _mask;
    private long _head; // next slot to read; written by the consumer only
    private long _tail; // next slot to write; written by the producer only
    private long _dropped;

    /// <summary>Creates a ring of at least <paramref name="capacity"/> packets (rounded up to a power of two).</summary>
    public PacketRing(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 2);
        var size = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)capacity);
        _items = new PacketMeta[size];
        _mask = size - 1;
    }

    /// <summary>Slots in the ring.</summary>
    public int Capacity => _items.Length;

    /// <summary>Packets dropped because the ring was full.</summary>
    public long Dropped => Volatile.Read(ref _dropped);

    /// <summary>Packets waiting now.</summary>
    public long Count => Volatile.Read(ref _tail) - Volatile.Read(ref _head);

    /// <summary>Producer side: queues <paramref name="packet"/>, or counts it as dropped when the ring is full.</summary>
    public bool TryWrite(in PacketMeta packet)
    {
        var tail = _tail;
        if (tail - Volatile.Read(ref _head) >= _items.Length)
        {
            Interlocked.Increment(ref _dropped);
            return false;
        }

        _items[tail & _mask] = packet;
        Volatile.Write(ref _tail, tail + 1);
        return true;
    }

    /// <summary>Consumer side: takes the oldest packet; false when empty.</summary>
    public bool TryRead(out PacketMeta packet)
    {
        var head = _head;
        if (head == Volatile.Read(ref _tail))
        {
            packet = default;
            return false;
        }

        packet = _items[head & _mask];
        Volatile.Write(ref _head, head + 1);
        return true;
    }
}
