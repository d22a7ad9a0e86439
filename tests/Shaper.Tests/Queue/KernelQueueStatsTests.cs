using Shaper.Queue;

namespace Shaper.Tests.Queue;

public sealed class KernelQueueStatsTests
{
    [Fact]
    public void Parse_ProcLines_ReadsEachQueuesFigures()
    {
        // The kernel's format: "%5u %6u %5u %1u %5u %5u %5u %8u %2d".
        var text = " 1000  12345    25 2   128     0     3    20000  1\n    7 4294967295     0 2 65531    11     0        9  1\nbad line\n";
        var stats = KernelQueueStats.Parse(text);

        Assert.Equal(
            [new KernelQueueStats(1000, 12345, 25, 0, 3, 20000), new KernelQueueStats(7, uint.MaxValue, 0, 11, 0, 9)],
            stats);
    }
}
