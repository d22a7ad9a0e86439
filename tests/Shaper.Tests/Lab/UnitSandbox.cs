using System.Text.RegularExpressions;

namespace Shaper.Tests.Lab;

/// <summary>
/// The shipped unit's (<c>systemd/shaperd.service</c>) privileges, as a command prefix: <c>setpriv</c> with the
/// unit's <c>CapabilityBoundingSet</c> as bounding, inheritable and ambient set (<c>AmbientCapabilities</c>) and
/// <c>NoNewPrivileges</c>, read from the unit file itself so that the tests follow it. systemd is not PID 1 on the
/// test machine, so <c>systemd-run</c> cannot apply the unit; what setpriv cannot apply (the seccomp filters behind
/// <c>RestrictNamespaces</c> and <c>SystemCallFilter</c>, the mount sandbox) is beside the point for the probe:
/// without CAP_SYS_ADMIN no namespace can be made anyway.
/// </summary>
public static class UnitSandbox
{
    /// <summary>The unit's capabilities, lower case without the <c>cap_</c> prefix, e.g. <c>net_admin</c>.</summary>
    public static IReadOnlyList<string> Capabilities()
    {
        var unit = File.ReadAllText(Path.Combine(RepoRoot.Find(), "systemd", "shaperd.service"));
        var bounding = Setting(unit, "CapabilityBoundingSet");
        Assert.Equal(bounding, Setting(unit, "AmbientCapabilities"));
        Assert.Equal("yes", Setting(unit, "NoNewPrivileges"));
        return [.. bounding.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(c => c.ToLowerInvariant().Replace("cap_", "", StringComparison.Ordinal))];
    }

    /// <summary>The command prefix that runs a program with exactly the unit's privileges.</summary>
    public static string[] Wrapper()
    {
        var caps = "-all," + string.Join(',', Capabilities().Select(c => "+" + c));
        return ["setpriv", $"--bounding-set={caps}", $"--inh-caps={caps}", $"--ambient-caps={caps}", "--no-new-privs"];
    }

    /// <summary>A PATH of one directory holding every tool shaperd uses but nft, so that nft is missing.</summary>
    public static string ToolsWithoutNft(string directory)
    {
        var bin = Directory.CreateDirectory(Path.Combine(directory, "bin")).FullName;
        foreach (var tool in new[] { "dotnet", "setpriv", "ip", "tc", "iptables", "ip6tables", "iptables-restore", "ip6tables-restore", "iptables-save", "ip6tables-save" })
        {
            var found = Environment.GetEnvironmentVariable("PATH")!.Split(':').Select(d => Path.Combine(d, tool)).First(File.Exists);
            File.CreateSymbolicLink(Path.Combine(bin, tool), Path.GetFullPath(found));
        }

        return bin;
    }

    private static string Setting(string unit, string name) =>
        Regex.Match(unit, $"^{name}=(.*)$", RegexOptions.Multiline) is { Success: true } m ? m.Groups[1].Value.Trim() : throw new InvalidOperationException($"the unit has no {name}=");
}
