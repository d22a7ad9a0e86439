namespace Shaper.Limiting;

/// <summary>
/// The sliding log's timestamp storage: one ring of <c>limit</c> timestamps per key, handed out from chunks
/// allocated as keys arrive and recycled when keys leave, up to a fixed number of rings. Memory is
/// <c>limit × 8</c> bytes per key tracked, never more than <c>maxRings × limit × 8</c>.
/// </summary>
internal sealed class SlidingLogArena
{
    private const int RingsPerChunk = 1024;

    private readonly int _ringLength;
    private readonly int _maxRings;
    private readonly List<long[]> _chunks = [];
    private readonly Stack<int> _free = new();
    private int _next;

    public SlidingLogArena(int ringLength, int maxRings)
    {
        _ringLength = ringLength;
        _maxRings = maxRings;
    }

    /// <summary>Rings handed out now.</summary>
    public int InUse => _next - _free.Count;

    /// <summary>Bytes allocated so far.</summary>
    public long AllocatedBytes => (long)_chunks.Count * RingsPerChunk * _ringLength * sizeof(long);

    /// <summary>A ring for a new key, or -1 when all <c>maxRings</c> are in use.</summary>
    public int Rent()
    {
        if (_free.Count > 0)
        {
            return _free.Pop();
        }

        if (_next >= _maxRings)
        {
            return -1;
        }

        if (_next / RingsPerChunk == _chunks.Count)
        {
            _chunks.Add(new long[Math.Min(RingsPerChunk, _maxRings - _next) * _ringLength]);
        }

        return _next++;
    }

    public void Return(int ring)
    {
        if (ring >= 0)
        {
            _free.Push(ring);
        }
    }

    /// <summary>The ring's timestamps.</summary>
    public Span<long> Ring(int ring) => _chunks[ring / RingsPerChunk].AsSpan((ring % RingsPerChunk) * _ringLength, _ringLength);
}
