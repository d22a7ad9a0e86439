using System.Net;
using Shaper.Limiting;
using Shaper.Rules;

namespace Shaper.Tests.Rules;

public sealed class ConfigLoaderTests
{
    /// <summary>DESIGN.md's example, with interface and block_for kept as written there.</summary>
    private const string DesignExample = """
        [daemon]
        interface = "eth0"                  # live capture for observe rules; "" = no capture
        backend = "auto"                    # auto | nftables | iptables | none
        socket = "/run/shaper/shaperd.sock"
        metrics = "127.0.0.1:9477"          # Prometheus text; "" = off
        state_dir = "/var/lib/shaper"       # blocks survive restarts
        keep_on_stop = false                # true: limits and blocks stay in the kernel while stopped

        [global]                            # host-wide cap; rule limits are capped by it
        rate = "20000/s"
        burst = 40000

        [[allow]]                           # never limited, never blocked (lock-out guard)
        cidr = ["127.0.0.0/8", "::1/128"]

        [[rule]]
        name = "ssh-new"
        match = { proto = "tcp", dport = [22], syn = true }
        per = "src"
        algorithm = "token_bucket"
        rate = "10/minute"
        burst = 5
        enforce = "kernel"
        action = "block"
        block_for = "10m"
        mode = "hard"
        """;

    [Fact]
    public void Parse_DesignExample_GivesEveryFieldWithoutDiagnostics()
    {
        var result = ConfigText.Load(DesignExample);

        Assert.Empty(result.Diagnostics);
        var config = Assert.IsType<ShaperConfig>(result.Config);
        Assert.Equal(new DaemonSettings { Interface = "eth0" }, config.Daemon);
        Assert.Equal(new Rate(20_000, 1_000_000_000), config.Global!.Rate.Rate);
        Assert.Equal(40_000, config.Global.Burst);
        Assert.Equal([IPNetwork.Parse("127.0.0.0/8"), IPNetwork.Parse("::1/128")], config.Allow);
        Assert.Equal("shaper.toml", config.SourceFile);
        var rule = Assert.Single(config.Rules);
        Assert.Equal("ssh-new", rule.Name);
        Assert.Equal(Protocol.Tcp, rule.Match.Proto);
        Assert.Equal([new PortRange(22, 22)], rule.Match.Dport);
        Assert.True(rule.Match.Syn);
        Assert.Equal(KeyScope.Source, rule.Per);
        Assert.Equal(AlgorithmKind.TokenBucket, rule.Algorithm);
        Assert.Equal(new RateSpec(new Rate(10, 60_000_000_000), RateUnit.Packets, "10/minute"), rule.Rate);
        Assert.Equal(5, rule.Burst);
        Assert.Equal(EnforceKind.Kernel, rule.Enforce);
        Assert.Equal(RuleAction.Block, rule.Action);
        Assert.Equal(TimeSpan.FromMinutes(10), rule.BlockFor);
        Assert.Equal(RuleMode.Hard, rule.Mode);
        Assert.Equal(new SourceLocation("shaper.toml", 16, 1), rule.Location);
    }

    [Fact]
    public void Parse_EmptyFile_GivesDesignDefaults()
    {
        var result = ConfigText.Load("");

        Assert.Empty(result.Diagnostics);
        Assert.Equal(new DaemonSettings(), result.Config!.Daemon);
        Assert.Equal("", result.Config.Daemon.Interface);
        Assert.Equal(BackendKind.Auto, result.Config.Daemon.Backend);
        Assert.Equal("/run/shaper/shaperd.sock", result.Config.Daemon.Socket);
        Assert.Equal("127.0.0.1:9477", result.Config.Daemon.Metrics);
        Assert.Equal("/var/lib/shaper", result.Config.Daemon.StateDir);
        Assert.False(result.Config.Daemon.KeepOnStop);
        Assert.Null(result.Config.Global);
        Assert.Empty(result.Config.Allow);
        Assert.Empty(result.Config.Rules);
    }

    [Fact]
    public void Parse_RuleWithOnlyRequiredFields_GetsDefaults()
    {
        var rule = Assert.Single(ConfigText.Load(ConfigText.Rule).Config!.Rules);

        Assert.Equal(new RuleMatch(), rule.Match);
        Assert.Equal(KeyScope.Source, rule.Per);
        Assert.Equal(AlgorithmKind.TokenBucket, rule.Algorithm);
        Assert.Equal(EnforceKind.Kernel, rule.Enforce);
        Assert.Equal(RuleAction.Drop, rule.Action);
        Assert.Equal(RuleMode.Hard, rule.Mode);
        Assert.Null(rule.Limit);
        Assert.Null(rule.Window);
        Assert.Null(rule.Queue);
        Assert.Null(rule.BlockFor);
    }

    [Fact]
    public void Parse_EveryMatchField_GivesMatch()
    {
        var toml = """
            [[rule]]
            name = "web"
            match = { proto = "tcp", dport = [80, "8000-8080"], sport = ["1024-65535"], src = ["198.18.0.0/15", "2001:db8::/32"], dst = ["198.18.0.2"], iface = "eth*" }
            rate = "1 mbytes/s"
            burst = 65536
            """;

        var rule = Assert.Single(ConfigText.Load(toml).Config!.Rules);

        Assert.Equal([new PortRange(80, 80), new PortRange(8000, 8080)], rule.Match.Dport);
        Assert.Equal([new PortRange(1024, 65535)], rule.Match.Sport);
        Assert.Equal([IPNetwork.Parse("198.18.0.0/15"), IPNetwork.Parse("2001:db8::/32")], rule.Match.Src);
        Assert.Equal([IPNetwork.Parse("198.18.0.2/32")], rule.Match.Dst);
        Assert.Equal("eth*", rule.Match.Iface);
        Assert.Null(rule.Match.Syn);
        Assert.Equal(new RateSpec(new Rate(1_048_576, 1_000_000_000), RateUnit.Bytes, "1 mbytes/s"), rule.Rate);
    }

    [Fact]
    public void Parse_MatchAsSubTable_SameAsInlineTable()
    {
        var toml = "[[rule]]\nname = \"a\"\nrate = \"1/s\"\nburst = 1\n[rule.match]\nproto = \"udp\"\ndport = [53]\n"
            + "[[rule]]\nname = \"b\"\nrate = \"1/s\"\nburst = 1\n[rule.match]\nproto = \"tcp\"\n";

        var rules = ConfigText.Load(toml).Config!.Rules;

        Assert.Equal(Protocol.Udp, rules[0].Match.Proto);
        Assert.Equal([new PortRange(53, 53)], rules[0].Match.Dport);
        Assert.Equal(Protocol.Tcp, rules[1].Match.Proto);
    }

    [Fact]
    public void Parse_MatchAsDottedKeys_SameAsInlineTable()
    {
        var toml = "[[rule]]\nname = \"a\"\nrate = \"1/s\"\nburst = 1\nmatch.proto = \"udp\"\nmatch.dport = [53]\n";

        var rule = Assert.Single(ConfigText.Load(toml).Config!.Rules);

        Assert.Equal(Protocol.Udp, rule.Match.Proto);
        Assert.Equal([new PortRange(53, 53)], rule.Match.Dport);
    }

    [Theory]
    [InlineData("src", KeyKind.Source, 32, 128)] // the address
    [InlineData("dst", KeyKind.Destination, 32, 128)] // the destination address
    [InlineData("src+dport", KeyKind.SourceAndDport, 32, 128)] // address and port
    [InlineData("rule", KeyKind.Rule, 0, 0)] // one bucket
    [InlineData("src/24", KeyKind.Source, 24, 64)] // an IPv4 prefix; IPv6 by /64
    [InlineData("src/64", KeyKind.Source, 32, 64)] // an IPv6 prefix; IPv4 by address
    [InlineData("src/48", KeyKind.Source, 32, 48)] // an IPv6 prefix
    public void Parse_Per_GivesKeyScope(string per, KeyKind kind, int v4, int v6)
    {
        var rule = Assert.Single(ConfigText.Load(ConfigText.Rule + $"per = \"{per}\"\n").Config!.Rules);

        Assert.Equal(new KeyScope(kind, v4, v6), rule.Per);
    }

    [Theory]
    [InlineData("leaky_bucket", "observe", "rate = \"5/s\"\nburst = 3\n")] // the meter
    [InlineData("fixed_window", "observe", "limit = 100\nwindow = \"1m\"\n")] // a window
    [InlineData("sliding_log", "observe", "limit = 100\nwindow = \"1m\"\n")] // a window
    [InlineData("sliding_window", "observe", "limit = 100\nwindow = \"1m\"\n")] // a window
    public void Parse_EachAlgorithmWithWhatItNeeds_IsValid(string algorithm, string enforce, string fields)
    {
        var toml = $"[daemon]\ninterface = \"eth0\"\n[[rule]]\nname = \"r\"\nalgorithm = \"{algorithm}\"\nenforce = \"{enforce}\"\n{fields}";

        var result = ConfigText.Load(toml);

        Assert.Empty(result.Diagnostics);
        Assert.NotNull(result.Config);
    }

    [Fact]
    public void Parse_WindowRule_KeepsLimitAndWindow()
    {
        var toml = "[daemon]\ninterface = \"eth0\"\n[[rule]]\nname = \"r\"\nalgorithm = \"sliding_log\"\nenforce = \"observe\"\nlimit = 100\nwindow = \"1m30s\"\naction = \"block\"\nblock_for = \"1h\"\nmode = \"soft\"\n";

        var rule = Assert.Single(ConfigText.Load(toml).Config!.Rules);

        Assert.Equal(AlgorithmKind.SlidingLog, rule.Algorithm);
        Assert.Equal(100, rule.Limit);
        Assert.Equal(TimeSpan.FromSeconds(90), rule.Window);
        Assert.Equal(TimeSpan.FromHours(1), rule.BlockFor);
        Assert.Equal(RuleMode.Soft, rule.Mode);
        Assert.Null(rule.Rate);
    }

    [Fact]
    public void Parse_RulesAsInlineArray_SameAsTableArray()
    {
        var toml = "allow = [{ cidr = [\"10.0.0.0/8\"] }]\nrule = [{ name = \"a\", rate = \"1/s\", burst = 1 }]\n";

        var result = ConfigText.Load(toml);

        Assert.Empty(result.Diagnostics);
        Assert.Equal("a", Assert.Single(result.Config!.Rules).Name);
        Assert.Single(result.Config.Allow);
    }

    [Fact]
    public void Parse_SingleStringOrPortWhereListExpected_TakenAsListOfOne()
    {
        var toml = "[[allow]]\ncidr = \"10.0.0.0/8\"\n[[rule]]\nname = \"r\"\nrate = \"1/s\"\nburst = 1\nmatch = { proto = \"tcp\", dport = 22 }\n";

        var result = ConfigText.Load(toml);

        Assert.Empty(result.Diagnostics);
        Assert.Equal([IPNetwork.Parse("10.0.0.0/8")], result.Config!.Allow);
        Assert.Equal([new PortRange(22, 22)], result.Config.Rules[0].Match.Dport);
    }

    [Fact]
    public void Load_ExistingFile_NamesItAsGiven()
    {
        var path = Path.Combine(Path.GetTempPath(), $"shaper-{Guid.NewGuid():N}.toml");
        File.WriteAllText(path, "\uFEFF" + ConfigText.Rule + "burts = 1\n");
        try
        {
            var result = ConfigLoader.Load(path);

            Assert.Equal($"{path}:5:1: unknown key 'burts' in [[rule]] 'r1'; did you mean 'burst'?", Assert.Single(ConfigText.Lines(result)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_MissingFile_GivesOneDiagnosticAndNoException()
    {
        var path = Path.Combine(Path.GetTempPath(), $"shaper-missing-{Guid.NewGuid():N}.toml");

        var result = ConfigLoader.Load(path);

        Assert.Null(result.Config);
        Assert.Equal($"{path}:1:1: cannot read the file: it does not exist; check the path; the installed default is /etc/shaper/shaper.toml", Assert.Single(ConfigText.Lines(result)));
    }

    [Fact]
    public void Load_Directory_GivesOneDiagnostic()
    {
        var result = ConfigLoader.Load(Path.GetTempPath());

        Assert.Equal("cannot read the file: it is a directory", Assert.Single(result.Diagnostics).Message);
    }

    [Theory]
    [InlineData("")] // no path at all
    [InlineData("bad\0name")] // a NUL cannot be in a path
    public void Load_UnusablePath_GivesOneDiagnostic(string path)
    {
        var result = ConfigLoader.Load(path);

        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.True(diagnostic.IsError);
        Assert.Equal(1, diagnostic.Location.Line);
    }

    [Fact]
    public void Load_InvalidUtf8_PointsAtTheBadByte()
    {
        var path = Path.Combine(Path.GetTempPath(), $"shaper-{Guid.NewGuid():N}.toml");
        File.WriteAllBytes(path, [.. "[daemon]\ninterface = \""u8, 0xFF, .. "\"\n"u8]);
        try
        {
            var result = ConfigLoader.Load(path);

            Assert.Equal($"{path}:2:14: the file is not valid UTF-8 here; save the file as UTF-8 text", Assert.Single(ConfigText.Lines(result)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_FileAboveSizeLimit_RefusedUnparsed()
    {
        var path = Path.Combine(Path.GetTempPath(), $"shaper-{Guid.NewGuid():N}.toml");
        File.WriteAllText(path, new string('#', ConfigLoader.MaxFileBytes + 1));
        try
        {
            var result = ConfigLoader.Load(path);

            Assert.Equal("the file is larger than 1024 KiB", Assert.Single(result.Diagnostics).Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
