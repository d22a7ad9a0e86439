using System.Net;
using System.Text.RegularExpressions;
using Shaper.Firewall;
using Shaper.Plan;
using Shaper.Rules;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Firewall;

/// <summary>
/// The iptables backend against the real kernel, in namespaces these tests create: a refused apply leaves the
/// previous rules, and a stop takes out the shaper's chains and jump and nothing of another owner's.
/// (Its per-source accuracy is in <see cref="KernelEnforcementTests"/>, through the same traffic as nft's.)
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed partial class IptablesEnforcementTests(ITestOutputHelper output)
{
    private const string Rules = """
        [[allow]]
        cidr = ["198.18.0.1/32", "2001:db8::1/128"]

        [[rule]]
        name = "udp-per-src"
        match = { proto = "udp", dport = [9000] }
        rate = "10/s"
        burst = 5

        [[rule]]
        name = "ssh-per-net"
        match = { proto = "tcp", dport = [22], syn = true }
        per = "src/24"
        rate = "3/minute"
        burst = 3
        action = "reject"
        """;

    public static TheoryData<string, string> Broken => new()
    {
        // iptables-restore --test refuses it: an interface name with a space (the validator never lets one
        // through; the test puts it in after loading) does not parse.
        { "parse", """
            [[rule]]
            name = "bad-iface"
            match = { proto = "udp", iface = "eth0" }
            rate = "10/s"
            burst = 5
            """ },

        // It parses, but the kernel refuses 1/day × burst 5 (hashlimit's credit overflows): the IPv4
        // transaction fails, and nothing has changed.
        { "kernel-v4", """
            [[rule]]
            name = "too-slow"
            match = { proto = "udp" }
            rate = "1/day"
            burst = 5
            """ },

        // The same only for IPv6: IPv4 goes in first, IPv6 fails, and IPv4 must be put back.
        { "kernel-v6", """
            [[rule]]
            name = "too-slow-v6"
            match = { proto = "udp", src = ["2001:db8::/32"] }
            rate = "1/day"
            burst = 5
            """ },
    };

    [RootTheory]
    [MemberData(nameof(Broken))]
    public void Apply_BrokenRules_LeavesThePreviousOnesEnforcedAndSaysWhy(string how, string extra)
    {
        using var lab = NetworkLab.Create();
        using var thread = new NamespaceThread(lab.B);
        var backend = new IptablesBackend(new IptablesProcess(), TimeProvider.System);
        var good = ConfigLoader.Parse(Rules, "t.toml").Config!;
        var goodPlan = EnforcementPlan.Compile(good, Shaper.Rules.BackendKind.Iptables);
        Assert.Null(thread.Invoke(() => backend.Apply(goodPlan)));
        Assert.Null(thread.Invoke(() => backend.AddBlocks([(IPNetwork.Parse("198.18.9.9/32"), TimeSpan.FromMinutes(1))])));
        var before = Filter(lab);
        Assert.Contains("--hashlimit-above 10/sec", before.V4, StringComparison.Ordinal);

        var broken = ConfigLoader.Parse(Rules + "\n" + extra, "t.toml").Config!;
        if (how == "parse")
        {
            var rule = broken.Rules[^1];
            broken = broken with { Rules = [.. broken.Rules.Take(broken.Rules.Count - 1), rule with { Match = rule.Match with { Iface = "bad name" } }] };
        }

        // The validator now refuses every burst iptables would refuse, so the kernel-refused plans are compiled as for
        // nftables (which takes a burst of 5 at 1/day): the iptables kernel then refuses them, which is the path tested.
        var error = thread.Invoke(() => backend.Apply(EnforcementPlan.Compile(broken, how == "parse" ? Shaper.Rules.BackendKind.Iptables : Shaper.Rules.BackendKind.Nftables)));

        output.WriteLine($"{how}: {error}");
        Assert.NotNull(error);
        Assert.Matches(how == "parse" ? "^iptables-restore refused the rules: " : how == "kernel-v4" ? "^iptables-restore could not apply" : "^ip6tables-restore could not apply", error);
        Assert.Equal(before, Filter(lab));
        Assert.Same(goodPlan, backend.Applied);
    }

    [RootFact]
    public async Task Stop_RemovesOnlyOurChainsAndJump_AnotherOwnersChainStaysByteForByte()
    {
        using var lab = NetworkLab.Create();
        foreach (var (tool, net) in new[] { ("iptables-restore", "198.18.5.0/24"), ("ip6tables-restore", "2001:db8:5::/48") })
        {
            var other = $"*filter\n:OTHER-INPUT - [0:0]\n-A INPUT -j OTHER-INPUT\n-A OTHER-INPUT -s {net} -p tcp -m tcp --dport 443 -j ACCEPT\n-A OTHER-INPUT -m limit --limit 7/min -j LOG --log-prefix \"other: \"\nCOMMIT\n";
            Run.Command("ip", ["netns", "exec", lab.B, tool, "--noflush"], other).EnsureSuccess("installing another owner's chain");
        }

        var before = Filter(lab);
        using (var daemon = DaemonProcess.Start(lab.B, Rules, "backend = \"iptables\""))
        {
            var during = Filter(lab);
            Assert.Contains(":SHAPER-INPUT", during.V4, StringComparison.Ordinal);
            Assert.Contains("-A INPUT -j SHAPER-INPUT", during.V6, StringComparison.Ordinal);
            Assert.True((await daemon.SendAsync("block.add", new() { ["address"] = "198.18.9.0/24", ["for"] = "1m" })).Ok);
            Assert.True((await daemon.SendAsync("block.add", new() { ["address"] = "2001:db8:9::7", ["for"] = "1m" })).Ok);
            var path = Path.Combine(daemon.Directory, "shaper.toml");
            File.WriteAllText(path, File.ReadAllText(path).Replace("10/s", "20/s", StringComparison.Ordinal));
            Assert.True((await daemon.SendAsync("reload")).Ok);
            var reloaded = Filter(lab);
            Assert.Contains("--hashlimit-above 20/sec", reloaded.V4, StringComparison.Ordinal);
            Assert.Contains("-A SHAPER-BLOCK -s 198.18.9.0/24 -j DROP", reloaded.V4, StringComparison.Ordinal);
            Assert.Contains("-A SHAPER-BLOCK -s 2001:db8:9::7/128 -j DROP", reloaded.V6, StringComparison.Ordinal);
            Assert.True(daemon.Stop() < TimeSpan.FromSeconds(5), "SIGTERM took 5 s or more");
        }

        Assert.Equal(before, Filter(lab));
        Assert.DoesNotContain("SHAPER", Filter(lab).V4 + Filter(lab).V6, StringComparison.Ordinal);
    }

    [RootFact]
    public void KeepOnStop_RestartAdoptsTheChains_OneJumpAndTheSameRules()
    {
        using var lab = NetworkLab.Create();
        string kept;
        using (var first = DaemonProcess.Start(lab.B, Rules, "backend = \"iptables\"\nkeep_on_stop = true"))
        {
            kept = Filter(lab).V4;
        }

        Assert.Equal(kept, Filter(lab).V4); // still enforced while the daemon is stopped
        using (var second = DaemonProcess.Start(lab.B, Rules, "backend = \"iptables\""))
        {
            var (v4, v6) = Filter(lab);
            Assert.Equal(kept, v4);
            Assert.Single(v6.Split('\n'), l => l == IptablesScript.JumpRule);
        }

        Assert.DoesNotContain("SHAPER", Filter(lab).V4, StringComparison.Ordinal);
    }

    /// <summary>Both families' filter tables as iptables-save prints them, without its dated comment lines.</summary>
    private static (string V4, string V6) Filter(NetworkLab lab) =>
        (Comments().Replace(lab.Exec(lab.B, "iptables-save", "-t", "filter").EnsureSuccess("iptables-save").Output, ""),
         Comments().Replace(lab.Exec(lab.B, "ip6tables-save", "-t", "filter").EnsureSuccess("ip6tables-save").Output, ""));

    [GeneratedRegex("^#.*\n", RegexOptions.Multiline)]
    private static partial Regex Comments();
}
