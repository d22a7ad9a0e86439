using System.Globalization;

namespace Shaper.Tests.Lab;

/// <summary>
/// CPU time the hypervisor gave other guests while this one had work: the steal column of <c>/proc/stat</c>, summed
/// over the CPUs, in ms. Counted in the kernel's ticks (USER_HZ, 100 on Linux: 10 ms), so a short span's figure is
/// coarse: 0 means under a tick on each CPU.
/// </summary>
public static class HostSteal
{
    public static double Milliseconds() =>
        long.Parse(File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[8], CultureInfo.InvariantCulture) * 10.0;
}
