using Shaper.Plan;

namespace Shaper.Engine;

/// <summary>
/// The <see cref="GlobalCap"/>'s one token bucket, shared by every capture thread's engine as the kernel shares its
/// one limit: GCRA over a single theoretical arrival time, updated with a compare-and-swap, so the packet path takes
/// no lock and allocates nothing. A packet costs <c>period × cost / amount</c> whole nanoseconds, rounded down as the
/// kernel's limit rounds its cost (<c>nft_limit</c> in net/netfilter/nft_limit.c); an arrival passes when the
/// theoretical arrival time after it is at most <c>burst</c> packet costs ahead of now, so the bucket starts full with
/// <c>burst</c> and refills at the rate. Threads may hand in timestamps slightly out of order: an arrival
/// earlier than the last one is judged at the last one's time.
/// </summary>
internal sealed class GlobalBucket
{
    private readonly long _periodNs;
    private readonly long _amount;
    private readonly long _toleranceNs;
    private long _tatNs = long.MinValue;

    public GlobalBucket(GlobalCap cap)
    {
        Cap = cap;
        _periodNs = cap.Rate.Rate.PeriodNs;
        _amount = cap.Rate.Rate.Amount;
        _toleranceNs = NsFor(cap.Burst);
    }

    /// <summary>The cap this bucket runs.</summary>
    public GlobalCap Cap { get; }

    /// <summary>Takes <paramref name="cost"/> at <paramref name="nowNs"/>: true when the packet is within the cap; false, taking nothing, when it is over.</summary>
    public bool TryTake(long nowNs, long cost)
    {
        var costNs = NsFor(cost);
        while (true)
        {
            var tat = Volatile.Read(ref _tatNs);
            var next = Math.Max(tat, nowNs) + costNs;
            if (next - nowNs > _toleranceNs)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _tatNs, next, tat) == tat)
            {
                return true;
            }
        }
    }

    /// <summary>The time <paramref name="units"/> take to accrue at the rate, in whole nanoseconds (rounded down), capped far from overflow.</summary>
    private long NsFor(long units)
    {
        var ns = (Int128)_periodNs * units / _amount;
        return ns > long.MaxValue / 4 ? long.MaxValue / 4 : (long)ns;
    }
}
