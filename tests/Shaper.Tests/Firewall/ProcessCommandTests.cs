using Shaper.Firewall;

namespace Shaper.Tests.Firewall;

/// <summary>The one way the shaper runs a program (iptables, nft without libnftables). No root needed.</summary>
public sealed class ProcessCommandTests
{
    [Fact]
    public void Run_ManyTimes_LeavesNoDescriptorOpen()
    {
        // A process closes the output streams it redirected only when nobody read them; read and left to the garbage
        // collector, each run kept two pipes open, and a daemon that runs iptables often reached libnftables' limit of
        // 1024 descriptors (it uses select) long before a collection came.
        var before = Directory.GetFiles("/proc/self/fd").Length;
        for (var i = 0; i < 300; i++)
        {
            var result = ProcessCommand.Run("cat", [], stdin: "x");
            Assert.True(result.Ok, result.Error);
            Assert.Equal("x", result.Output);
        }

        Assert.InRange(Directory.GetFiles("/proc/self/fd").Length - before, -50, 50);
    }

    [Fact]
    public void Run_ProgramEndsWithoutReadingItsInput_ReportsItsExitInsteadOfThrowing()
    {
        // More than a pipe holds (64 KiB), so the write meets the closed pipe: a program that refuses its script before
        // reading it (an iptables-restore that does not know its arguments) is a failure with its reason, not an exception.
        var result = ProcessCommand.Run("sh", ["-c", "echo no script wanted >&2; exit 3"], stdin: new string('x', 1 << 20));
        Assert.False(result.Ok);
        Assert.Equal("no script wanted\n", result.Error);
    }
}
