using System.Text.RegularExpressions;
using System.Diagnostics;
using Shaper.Firewall;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Daemon;

/// <summary>
/// <c>shaperd --check</c> on this host, run in a lab namespace: one line per feature, the backend the
/// configuration comes to, the exit code, and nothing left behind in the namespace. Hiding nft (a PATH without
/// it) shows auto falling back to iptables and a forced nftables failing.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class CheckCommandTests(ITestOutputHelper output)
{
    private static readonly string[] Features =
    [
        FeatureProbe.Nft, FeatureProbe.NftMeters, FeatureProbe.NftReject, FeatureProbe.NftQueue, FeatureProbe.Iptables, FeatureProbe.Hashlimit,
        FeatureProbe.IptablesReject, FeatureProbe.Nfqueue, FeatureProbe.Hmark, FeatureProbe.Ipset, FeatureProbe.Ifb, FeatureProbe.Htb,
        FeatureProbe.ThreadNice, FeatureProbe.ThreadRealtime,
    ];

    [RootTheory]
    [InlineData("auto", true, 0, "backend auto: usable, enforcing with nftables")] // nft is there: auto takes it
    [InlineData("auto", false, 0, "backend auto: usable, enforcing with iptables")] // no nft: auto falls back
    [InlineData("iptables", true, 0, "backend iptables: usable, enforcing with iptables")] // forced, and it works
    [InlineData("nftables", false, 1, "backend nftables: not usable here (missing: nft, nft-meters)")] // forced, and missing
    public void Check_OnThisHost_PrintsOneLinePerFeatureAndTheBackend(string backend, bool withNft, int exitCode, string last)
    {
        using var check = CheckLab.Create($"[daemon]\nbackend = \"{backend}\"\n");
        var (lab, directory, config) = (check.Lab, check.Directory, check.Config);
        var before = Ruleset(lab, withNft);
        var (code, stdout) = Check(lab, config, withNft ? null : UnitSandbox.ToolsWithoutNft(directory));
        output.WriteLine(stdout);

        var lines = stdout.TrimEnd('\n').Split('\n');
        Assert.Equal(Features.Length + 1, lines.Length);
        for (var i = 0; i < Features.Length; i++)
        {
            Assert.Matches($"^{Features[i]} +(works|missing) +\\S", lines[i]);
            Assert.True(!lines[i].Contains(" missing ", StringComparison.Ordinal) || lines[i].Contains("; disables ", StringComparison.Ordinal), lines[i]);
        }

        Assert.Equal(withNft, lines[0].StartsWith("nft              works", StringComparison.Ordinal));

        // nft's queue statement as this kernel was built (this test machine's lacks it: queue rules use iptables).
        Assert.Matches(withNft && Firewall.NftQueueScriptTests.KernelHasNftQueue() ? "^nft-queue +works " : "^nft-queue +missing .*; disables nothing: queue rules use iptables -j NFQUEUE instead", lines[3]);
        Assert.StartsWith("thread-nice      works", lines[^3], StringComparison.Ordinal); // root may: CAP_SYS_NICE
        Assert.StartsWith("thread-realtime  works", lines[^2], StringComparison.Ordinal); // and real-time too
        Assert.Equal(last, lines[^1]);
        Assert.Equal(exitCode, code);
        Assert.Equal(before, Ruleset(lab, withNft)); // the probe leaves nothing behind: no table, chain or device
    }

    /// <summary>
    /// The probe asks the kernel for several features in one transaction (nft) or one commit per family (iptables) and
    /// probes each alone only when that is refused: a feature the kernel refuses is missing with its own reason, and
    /// every other feature's line is what it is on this host. A wrapper refuses any input naming one feature's
    /// statement, as a kernel without its module would; with ip6tables-restore the IPv4 commit has gone through first.
    /// </summary>
    [RootTheory]
    [InlineData("nft", "reject", FeatureProbe.NftReject)] // nft's one transaction refused: the table and meters still work
    [InlineData("iptables-restore", "HMARK", FeatureProbe.Hmark)] // the IPv4 commit refused: nothing committed yet
    [InlineData("ip6tables-restore", "HMARK", FeatureProbe.Hmark)] // the IPv6 commit refused after the IPv4 one went in
    [InlineData("iptables-restore", "hashlimit", FeatureProbe.Hashlimit)] // the first rule after the chain
    public void Check_OneFeatureRefused_OnlyItIsMissingWithItsReasonAndNothingIsLeft(string tool, string statement, string feature)
    {
        using var check = CheckLab.Create("[daemon]\n");
        var (lab, directory, config) = (check.Lab, check.Directory, check.Config);
        var before = Ruleset(lab);
        var (_, expected) = Check(lab, config, null);
        var (_, stdout) = Check(lab, config, ToolsRefusing(directory, tool, statement));
        output.WriteLine(stdout);

        var lines = stdout.TrimEnd('\n').Split('\n');
        var reference = expected.TrimEnd('\n').Split('\n');
        Assert.Equal(reference.Length, lines.Length);
        for (var i = 0; i < Features.Length; i++)
        {
            if (Features[i] == feature)
            {
                Assert.Matches($"^{feature} +missing +refused by the test: {statement}; disables ", lines[i]);
            }
            else
            {
                Assert.Equal(reference[i], lines[i]);
            }
        }

        Assert.Equal(before, Ruleset(lab)); // nothing left behind, also after a refused commit
    }

    /// <summary>
    /// What a probe killed halfway leaves (its device, its iptables chain with a rule, and the empty filter tables
    /// iptables-nft made for it) is in the way of the next: that one still finds every feature and leaves nothing of
    /// either behind. The device is removed only when adding it fails, the chain by the run that commits it.
    /// </summary>
    [RootFact]
    public void Check_AfterACrashedProbe_FindsEveryFeatureAndLeavesNothing()
    {
        using var check = CheckLab.Create("[daemon]\n");
        var (lab, config) = (check.Lab, check.Config);
        var before = Ruleset(lab, emptyFilterTables: false);
        var (_, expected) = Check(lab, config, null);

        lab.Exec(lab.B, "ip", "link", "add", "shaper-probe0", "type", "ifb").EnsureSuccess("the leftover device");
        foreach (var tool in new[] { "iptables-restore", "ip6tables-restore" })
        {
            Run.Command("ip", ["netns", "exec", lab.B, tool, "--noflush"], "*filter\n:SHAPER-PROBE - [0:0]\n-A SHAPER-PROBE -j DROP\nCOMMIT\n").EnsureSuccess("the leftover chain");
        }

        Assert.NotEqual(before, Ruleset(lab, emptyFilterTables: false));
        var (code, stdout) = Check(lab, config, null);
        output.WriteLine(stdout);
        Assert.Equal(0, code);
        Assert.Equal(expected, stdout);
        Assert.Matches("(?m)^ifb +works ", stdout);
        Assert.Equal(before, Ruleset(lab, emptyFilterTables: false));
    }

    /// <summary>
    /// A PATH of one directory holding every tool shaperd uses, where <paramref name="tool"/> refuses any script it is
    /// given on its standard input that contains <paramref name="statement"/> (a line on stderr, exit 1) and runs the
    /// real program otherwise.
    /// </summary>
    private static string ToolsRefusing(string directory, string tool, string statement)
    {
        var bin = Directory.CreateDirectory(Path.Combine(directory, "bin")).FullName;
        string Find(string name) => Path.GetFullPath(Environment.GetEnvironmentVariable("PATH")!.Split(':').Select(d => Path.Combine(d, name)).First(File.Exists));
        foreach (var name in new[] { "dotnet", "ip", "tc", "nft", "iptables", "ip6tables", "iptables-restore", "ip6tables-restore", "iptables-save", "ip6tables-save" }.Where(n => n != tool))
        {
            File.CreateSymbolicLink(Path.Combine(bin, name), Find(name));
        }

        // Only a run that reads a script (nft -f -, iptables-restore) reads standard input; the others inherit it. The
        // PATH holds no cat.
        var wrapper = Path.Combine(bin, tool);
        File.WriteAllText(wrapper, $$"""
            #!/bin/sh
            case " $* " in
            *" -f - "*|*" --noflush "*)
                script=$({{Find("cat")}})
                case "$script" in *{{statement}}*) echo "refused by the test: {{statement}}" >&2; exit 1;; esac
                printf '%s\n' "$script" | {{Find(tool)}} "$@"
                exit $?;;
            esac
            exec {{Find(tool)}} "$@"
            """);
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return bin;
    }

    /// <summary>
    /// Without CAP_SYS_NICE (as under the unit, whose capabilities are NET_ADMIN and NET_RAW) and with the default
    /// nice and real-time limits, nice -5 and SCHED_FIFO are refused and --check says so and what it costs. (The
    /// unit's LimitNICE=-5 and LimitRTPRIO=5 raise those limits; raising them needs CAP_SYS_RESOURCE, which this test
    /// machine's root lacks, so only root's case and this one are tested here.)
    /// </summary>
    [RootFact]
    public void Check_WithoutCapSysNiceOrLimits_ThreadNiceAndRealtimeAreMissingAndSayWhatTheyCost()
    {
        using var check = CheckLab.Create("[daemon]\n");
        var (lab, config) = (check.Lab, check.Config);
        var (_, stdout) = Check(lab, config, null, ["prlimit", "--nice=0:0", "--rtprio=0:0", "setpriv", "--bounding-set=-sys_nice", "--inh-caps=-sys_nice"]);
        output.WriteLine(stdout);
        Assert.Matches($"(?m)^{FeatureProbe.ThreadNice} +missing +setpriority: Permission denied; disables .*LimitNICE=-5", stdout);
        Assert.Matches($"(?m)^{FeatureProbe.ThreadRealtime} +missing +sched_setscheduler: Operation not permitted; disables .*LimitRTPRIO=5", stdout);
    }

    /// <summary>
    /// The namespace's whole netfilter ruleset and its links' names. With <paramref name="emptyFilterTables"/> false,
    /// iptables-nft's empty <c>filter</c> tables are left out: the probe removes one it made with nft, so where nft
    /// is missing one stays (it has no chain, so no hook, and sees no packet).
    /// </summary>
    internal static string Ruleset(NetworkLab lab, bool emptyFilterTables = true)
    {
        var nft = lab.Exec(lab.B, "nft", "list", "ruleset").Output;
        if (!emptyFilterTables)
        {
            nft = nft.Replace("table ip filter {\n}\n", "", StringComparison.Ordinal).Replace("table ip6 filter {\n}\n", "", StringComparison.Ordinal);
        }

        var links = lab.Exec(lab.B, "ip", "-o", "link").Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(':')[1].Trim());
        var iptables = new[] { lab.Exec(lab.B, "iptables-save").Output, lab.Exec(lab.B, "ip6tables-save").Output }
            .SelectMany(o => o.Split('\n'))
            .Where(l => !l.StartsWith('#')) // iptables-save's comments carry the time
            .Where(l => emptyFilterTables || !(l is "*filter" or "COMMIT" || Regex.IsMatch(l, @"^:(INPUT|FORWARD|OUTPUT) ACCEPT \[\d+:\d+\]$")));
        return string.Join('\n', nft.Split('\n').Concat(iptables).Concat(links));
    }

    /// <summary>A lab namespace and a directory holding <c>shaper.toml</c> (<paramref name="daemonToml"/> as its whole text), both removed on dispose.</summary>
    private sealed class CheckLab : IDisposable
    {
        private CheckLab(NetworkLab lab, string directory)
        {
            Lab = lab;
            Directory = directory;
        }

        public NetworkLab Lab { get; }

        public string Directory { get; }

        public string Config => Path.Combine(Directory, "shaper.toml");

        public static CheckLab Create(string daemonToml)
        {
            var check = new CheckLab(NetworkLab.Create(), System.IO.Directory.CreateTempSubdirectory("shaper-check-").FullName);
            File.WriteAllText(check.Config, daemonToml);
            return check;
        }

        public void Dispose()
        {
            System.IO.Directory.Delete(Directory, recursive: true);
            Lab.Dispose();
        }
    }

    internal static (int Code, string Output) Check(NetworkLab lab, string config, string? path, string[]? wrapper = null)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "netns", "exec", lab.B }.Concat(wrapper ?? []).Concat(["dotnet", Shaperd.Dll, "--check", "--config", config]))
        {
            start.ArgumentList.Add(arg);
        }

        if (path is not null)
        {
            start.Environment["PATH"] = path;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(60)), "shaperd --check did not finish in 60 s");
        process.WaitForExit();
        Assert.True(stderr.Result.Length == 0, stderr.Result);
        return (process.ExitCode, stdout.Result);
    }
}
