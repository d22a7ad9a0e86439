using System.Globalization;
using System.Runtime.CompilerServices;
using Shaper.Interop;

namespace Shaper.Tests.Interop;

/// <summary>Key tables of megabytes are advised for transparent huge pages; small ones are left alone.</summary>
public sealed unsafe class HugePagesTests
{
    private const string Setting = "/sys/kernel/mm/transparent_hugepage/enabled";

    [HugePagesFact]
    public void Allocate_EightMegabytes_TheKernelMarksItsMappingForHugePages()
    {
        var array = HugePages.Allocate<long>(1 << 20);
        var middle = (ulong)Unsafe.AsPointer(ref array[array.Length / 2]);

        Assert.Equal(1 << 20, array.Length);
        Assert.Contains(" hg", FlagsOf(middle), StringComparison.Ordinal);
        GC.KeepAlive(array);
    }

    [Fact]
    public void Allocate_UnderTwoHugePages_AnOrdinaryArray()
    {
        var array = HugePages.Allocate<long>(1024);

        var middle = (ulong)Unsafe.AsPointer(ref array[512]);

        Assert.Equal(1024, array.Length);
        Assert.DoesNotContain(" hg", FlagsOf(middle), StringComparison.Ordinal);
        GC.KeepAlive(array);
    }

    /// <summary>A test that needs the kernel's transparent huge pages: skipped with the reason where they are off.</summary>
    [AttributeUsage(AttributeTargets.Method)]
    private sealed class HugePagesFactAttribute : FactAttribute
    {
        public HugePagesFactAttribute()
        {
            if (!File.Exists(Setting) || File.ReadAllText(Setting).Contains("[never]", StringComparison.Ordinal))
            {
                Skip = $"transparent huge pages are off here ({Setting})";
            }
        }
    }

    /// <summary>The VmFlags line of the mapping of /proc/self/smaps that holds <paramref name="address"/>.</summary>
    private static string FlagsOf(ulong address)
    {
        var inside = false;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            var dash = line.IndexOf('-', StringComparison.Ordinal);
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            if (dash > 0 && space > dash && ulong.TryParse(line.AsSpan(0, dash), NumberStyles.HexNumber, null, out var start)
                && ulong.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, null, out var end))
            {
                inside = address >= start && address < end;
            }
            else if (inside && line.StartsWith("VmFlags:", StringComparison.Ordinal))
            {
                return line;
            }
        }

        return "";
    }
}
