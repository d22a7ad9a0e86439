namespace Shaper.Queue;

/// <summary>What the queue does with one packet when it arrives.</summary>
public enum QueueVerdict
{
    /// <summary>Its key's FIFO is empty and its slot free: accepted at once.</summary>
    AcceptNow,

    /// <summary>Held in its key's FIFO and accepted at its departure slot.</summary>
    Hold,

    /// <summary>Its key's FIFO is full (or the daemon holds <c>max_held</c> already): dropped.</summary>
    Drop,
}
