namespace Shaper.Fleet;

/// <summary>
/// A breaker's sliding window of call outcomes, count-based (a ring of the last N outcomes, subtracting the one
/// it overwrites) or time-based (N one-second buckets, a bucket cleared when its second comes round again), as
/// Resilience4j's <c>FixedSizeSlidingWindowMetrics</c> and <c>SlidingTimeWindowMetrics</c> keep them: every
/// snapshot is O(1). Not thread-safe: the breaker locks around it.
/// </summary>
internal sealed class BreakerWindow
{
    private readonly BreakerWindowType _type;
    private readonly byte[] _ring;          // count-based: 0 none, bit 1 failed, bit 2 slow, bit 4 present
    private readonly long[] _bucketSecond;  // time-based: the second each bucket holds
    private readonly int[] _bucketCalls;
    private readonly int[] _bucketFailed;
    private readonly int[] _bucketSlow;
    private int _next;

    public BreakerWindow(BreakerWindowType type, int size)
    {
        _type = type;
        if (type == BreakerWindowType.CountBased)
        {
            _ring = new byte[size];
            _bucketSecond = [];
            _bucketCalls = _bucketFailed = _bucketSlow = [];
        }
        else
        {
            _ring = [];
            _bucketSecond = new long[size];
            Array.Fill(_bucketSecond, long.MinValue);
            _bucketCalls = new int[size];
            _bucketFailed = new int[size];
            _bucketSlow = new int[size];
        }
    }

    /// <summary>Calls in the window.</summary>
    public int Calls { get; private set; }

    /// <summary>Failed calls in the window.</summary>
    public int Failed { get; private set; }

    /// <summary>Slow calls in the window (successful or not).</summary>
    public int Slow { get; private set; }

    /// <summary>Records one outcome at <paramref name="second"/> (whole seconds on the breaker's clock; time-based only).</summary>
    public void Record(bool failed, bool slow, long second)
    {
        if (_type == BreakerWindowType.CountBased)
        {
            var old = _ring[_next];
            if ((old & 4) != 0)
            {
                Calls--;
                Failed -= old & 1;
                Slow -= (old >> 1) & 1;
            }

            _ring[_next] = (byte)(4 | (failed ? 1 : 0) | (slow ? 2 : 0));
            _next = (_next + 1) % _ring.Length;
        }
        else
        {
            Expire(second);
            var i = (int)(((second % _bucketSecond.Length) + _bucketSecond.Length) % _bucketSecond.Length);
            _bucketCalls[i]++;
            _bucketFailed[i] += failed ? 1 : 0;
            _bucketSlow[i] += slow ? 1 : 0;
        }

        Calls++;
        Failed += failed ? 1 : 0;
        Slow += slow ? 1 : 0;
    }

    /// <summary>Drops the buckets older than the window at <paramref name="second"/> (time-based only; count-based keeps its last N).</summary>
    public void Expire(long second)
    {
        if (_type == BreakerWindowType.CountBased)
        {
            return;
        }

        var size = _bucketSecond.Length;
        for (var i = 0; i < size; i++)
        {
            if (_bucketSecond[i] != long.MinValue && _bucketSecond[i] > second - size)
            {
                continue;
            }

            Calls -= _bucketCalls[i];
            Failed -= _bucketFailed[i];
            Slow -= _bucketSlow[i];
            _bucketCalls[i] = _bucketFailed[i] = _bucketSlow[i] = 0;
            _bucketSecond[i] = long.MinValue;
        }

        var current = (int)(((second % size) + size) % size);
        _bucketSecond[current] = second;
    }
}
