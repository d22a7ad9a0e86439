namespace Shaper.Tests.Lab;

/// <summary>
/// A test that needs root (network namespaces, netfilter, capture): skipped with a clear reason when the
/// tests do not run as root or the tools are missing. CI runs as root, so there it always runs.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute() => Skip = SkipReason();

    /// <summary>Why a root test cannot run here; null when it can.</summary>
    internal static string? SkipReason()
    {
        if (Environment.UserName != "root" && !IsUidZero())
        {
            return "needs root: it creates network namespaces (CI runs the tests as root)";
        }

        if (!File.Exists("/usr/sbin/ip") && !File.Exists("/sbin/ip") && !File.Exists("/usr/bin/ip"))
        {
            return "needs iproute2 (`ip`); make test installs it";
        }

        return null;
    }

    private static bool IsUidZero()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("Uid:", StringComparison.Ordinal))
            {
                return line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1] == "0";
            }
        }

        return false;
    }
}
