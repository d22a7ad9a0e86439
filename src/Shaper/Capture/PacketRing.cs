using Shaper.Packets;

namespace Shaper.Capture;

/// <summary>
/// The bounded hand-off between the capture thread (one producer) and the engine thread (one consumer):
/// a lock-free single-producer single-consumer ring of parsed packets. When the engine falls behind, the
/// ring is full and new packets are dropped and counted instead of queueing without bound. An idle consumer
/// sleeps in <see cref="WaitForPackets"/> and the next write wakes it, so a packet after a quiet spell waits for
/// a wake-up (tens of microseconds), not for a polling period, and an idle daemon does not poll at all.
/// </summary>
public sealed class PacketRing : IDisposable
{
    private readonly PacketMeta[] _items;
    private readonly long _mask;
    private readonly SemaphoreSlim _wake = new(0);
    private long _head; // next slot to read; written by the consumer only
    private long _tail; // next slot to write; written by the producer only
    private long _dropped;
    private int _sleeping; // 1 while the consumer sleeps (or is about to)

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

        // The tail must be visible before the flag is read (a store then a load: a full fence), else a consumer
        // that checked the ring just before this write and then went to sleep would sleep through the packet.
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _sleeping) == 1)
        {
            Wake();
        }

        return true;
    }

    /// <summary>Wakes the consumer if it sleeps (for work other than packets, or to stop).</summary>
    public void Wake()
    {
        if (Interlocked.Exchange(ref _sleeping, 0) == 1)
        {
            _wake.Release();
        }
    }

    /// <summary>
    /// Consumer side, when <see cref="TryRead"/> found nothing: sleeps until a packet is written, <see cref="Wake"/>
    /// is called, or <paramref name="timeout"/> passes. A wake-up may be spurious; the caller reads again.
    /// <paramref name="pending"/> says whether other work is queued; it is asked after the consumer is marked
    /// asleep, so work queued before a <see cref="Wake"/> is never slept through. False when the timeout passed.
    /// </summary>
    public bool WaitForPackets(TimeSpan timeout, Func<bool>? pending = null)
    {
        Volatile.Write(ref _sleeping, 1);
        Interlocked.MemoryBarrier(); // the flag before the tail: the producer's fence, mirrored
        if (Volatile.Read(ref _tail) != _head || pending?.Invoke() == true)
        {
            Volatile.Write(ref _sleeping, 0);
            return true;
        }

        var woken = _wake.Wait(timeout);
        Volatile.Write(ref _sleeping, 0);
        return woken;
    }

    /// <inheritdoc />
    public void Dispose() => _wake.Dispose();

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
