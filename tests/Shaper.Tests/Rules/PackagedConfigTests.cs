using Shaper.Rules;

namespace Shaper.Tests.Rules;

/// <summary>packaging/shaper.toml is what every install starts with: it must load cleanly and be safe.</summary>
public sealed class PackagedConfigTests
{
    private static readonly string PackagedPath = RepoRoot.File("packaging", "shaper.toml");

    [Fact]
    public void Load_PackagedDefault_NoErrorsNoWarnings()
    {
        var result = ConfigLoader.Load(PackagedPath);

        Assert.Empty(result.Diagnostics);
        Assert.NotNull(result.Config);
    }

    [Fact]
    public void Load_PackagedDefault_IsSafe()
    {
        var config = ConfigLoader.Load(PackagedPath).Config!;

        // No capture until someone chooses an interface.
        Assert.Equal("", config.Daemon.Interface);

        // Loopback can never be limited or blocked.
        Assert.Contains(System.Net.IPNetwork.Parse("127.0.0.0/8"), config.Allow);
        Assert.Contains(System.Net.IPNetwork.Parse("::1/128"), config.Allow);

        // One modest kernel rule on new SSH connections that drops, never blocks.
        var rule = Assert.Single(config.Rules);
        Assert.Equal("ssh-new", rule.Name);
        Assert.Equal(EnforceKind.Kernel, rule.Enforce);
        Assert.Equal(RuleAction.Drop, rule.Action);
        Assert.True(rule.Match.Syn);
        Assert.Equal([new PortRange(22, 22)], rule.Match.Dport);
    }

    [Fact]
    public void Load_PackagedDefaultWithCommentedExamplesEnabled_StillValid()
    {
        // The commented-out examples are there to be copied: uncommented, they must validate too
        // (with a capture interface, which the observe example needs).
        var lines = File.ReadAllLines(PackagedPath)
            .Select(line => line.StartsWith("# [[rule]]", StringComparison.Ordinal) || (line.StartsWith("# ", StringComparison.Ordinal) && line.Contains(" = ", StringComparison.Ordinal) && !line.Contains("  ", StringComparison.Ordinal))
                ? line[2..]
                : line)
            .Select(line => line.StartsWith("interface = \"\"", StringComparison.Ordinal) ? "interface = \"eth0\"" : line);

        var result = ConfigLoader.Parse(string.Join('\n', lines), "shaper.toml");

        Assert.Empty(result.Diagnostics);
        Assert.Equal(["ssh-new", "http-flood", "udp-smooth"], result.Config!.Rules.Select(r => r.Name));
    }
}
