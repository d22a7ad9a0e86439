namespace Shaper.Queue;

/// <summary>
/// <c>[daemon] max_held</c>: the packets every queue together may hold. Each worker takes one unit per packet it holds
/// and gives it back at the verdict; an interlocked counter, touched only for held packets.
/// </summary>
public sealed class HeldBudget(int capacity)
{
    private int _held;

    /// <summary>The most packets held at once.</summary>
    public int Capacity { get; } = capacity;

    /// <summary>Packets held now, over all queues.</summary>
    public int Held => Volatile.Read(ref _held);

    /// <summary>Takes one unit; false when <see cref="Capacity"/> are held.</summary>
    public bool TryTake()
    {
        if (Interlocked.Increment(ref _held) <= Capacity)
        {
            return true;
        }

        Interlocked.Decrement(ref _held);
        return false;
    }

    /// <summary>Gives one unit back.</summary>
    public void Return() => Interlocked.Decrement(ref _held);
}
