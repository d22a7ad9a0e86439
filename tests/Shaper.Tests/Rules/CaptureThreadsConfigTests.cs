using Shaper.Rules;

namespace Shaper.Tests.Rules;

public sealed class CaptureThreadsConfigTests
{
    [Fact]
    public void CaptureThreads_Absent_IsHalfTheCoresFromOneToFour()
    {
        var daemon = ConfigText.Load("[daemon]\n").Config!.Daemon;
        Assert.Equal(0, daemon.CaptureThreads);
        Assert.Equal(Math.Clamp(Environment.ProcessorCount / 2, 1, 4), daemon.EffectiveCaptureThreads);
    }

    [Fact]
    public void CaptureThreads_Given_IsTaken()
    {
        Assert.Equal(3, ConfigText.Load("[daemon]\ncapture_threads = 3\n").Config!.Daemon.EffectiveCaptureThreads);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("65")]
    [InlineData("\"two\"")]
    public void CaptureThreads_OutOfRange_IsAnErrorAtItsLine(string value)
    {
        var error = Assert.Single(ConfigText.Errors(ConfigText.Load($"[daemon]\ncapture_threads = {value}\n")));
        Assert.StartsWith("shaper.toml:2:", error);
        Assert.Contains("capture_threads", error);
    }
}
