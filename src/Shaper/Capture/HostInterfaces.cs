using System.Globalization;

namespace Shaper.Capture;

/// <summary>The network interfaces of the daemon's network namespace now, each name with its index (<c>/sys/class/net/NAME/ifindex</c>).</summary>
public static class HostInterfaces
{
    private const string SysClassNet = "/sys/class/net";

    /// <summary>Every interface, name and index; empty when sysfs cannot be read.</summary>
    public static IReadOnlyList<(string Name, int Index)> Read()
    {
        var interfaces = new List<(string, int)>();
        try
        {
            foreach (var directory in Directory.EnumerateDirectories(SysClassNet))
            {
                try
                {
                    if (int.TryParse(File.ReadAllText(Path.Combine(directory, "ifindex")).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                    {
                        interfaces.Add((Path.GetFileName(directory), index));
                    }
                }
                catch (IOException)
                {
                    // Gone between the listing and the read: it is not there now.
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }

        return interfaces;
    }
}
