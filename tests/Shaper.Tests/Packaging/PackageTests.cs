using System.IO.Compression;
using System.Text.RegularExpressions;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Packaging;

/// <summary>
/// The .deb as a user gets it (packaging/build-deb.sh, built once for these tests, about a minute for the
/// self-contained publish): what it holds, that its programs run from an unpacked root, and that its unit
/// passes <c>systemd-analyze verify</c> as installed.
/// </summary>
[Collection(PackagingCollection.Name)]
public sealed partial class PackageTests(DebPackage package, ITestOutputHelper output) : IClassFixture<DebPackage>
{
    private static readonly string Version = typeof(Shaper.Rules.ConfigLoader).Assembly.GetName().Version!.ToString(3);

    [PackagingFact]
    public void Deb_Contents_ProgramsUnitConffileManPagesAndCompletion()
    {
        var listing = Dpkg("-c", package.Deb);
        var entries = listing.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => ListingLine().Match(l)).Where(m => m.Success).ToList();
        var paths = entries.Select(m => m.Groups["path"].Value).ToHashSet(StringComparer.Ordinal);

        foreach (var path in new[]
        {
            "./usr/lib/shaper/shaperd", "./usr/lib/shaper/shaperctl",
            "./usr/bin/shaperd -> ../lib/shaper/shaperd", "./usr/bin/shaperctl -> ../lib/shaper/shaperctl",
            "./lib/systemd/system/shaperd.service", "./etc/shaper/shaper.toml",
            "./usr/share/man/man8/shaperd.8.gz", "./usr/share/man/man1/shaperctl.1.gz",
            "./usr/share/bash-completion/completions/shaperctl",

            // Self-contained (see the README): the runtime travels with the programs.
            "./usr/lib/shaper/libcoreclr.so",

            // Both programs, their libraries and the runtime's, precompiled as one composite image (packaging/composite).
            "./usr/lib/shaper/shaper-composite.r2r.dll",

            // The block store's SQLite, native and bundled (Microsoft.Data.Sqlite's e_sqlite3).
            "./usr/lib/shaper/libe_sqlite3.so",
        })
        {
            Assert.True(paths.Contains(path), $"the package lacks {path}:\n{listing}");
        }

        // Everything is readable by all, and only the programs are executable (not the runtime's 0744 files).
        var files = entries.Where(m => m.Groups["mode"].Value.StartsWith('-')).ToList();
        Assert.All(files, m => Assert.Matches("^-r..r..r..$", m.Groups["mode"].Value));
        Assert.Equal(
            ["./usr/lib/shaper/createdump", "./usr/lib/shaper/shaperctl", "./usr/lib/shaper/shaperd"],
            files.Where(m => m.Groups["mode"].Value.Contains('x', StringComparison.Ordinal)).Select(m => m.Groups["path"].Value).Order(StringComparer.Ordinal));

        Assert.Equal("/etc/shaper/shaper.toml", Dpkg("-I", package.Deb, "conffiles").Trim());
        Assert.Equal(File.ReadAllText(RepoFile("packaging", "shaper.toml")), File.ReadAllText(Path.Combine(package.Root, "etc/shaper/shaper.toml")));
        Assert.Equal(File.ReadAllText(RepoFile("systemd", "shaperd.service")), File.ReadAllText(Path.Combine(package.Root, "lib/systemd/system/shaperd.service")));
    }

    [PackagingFact]
    public void Deb_Control_VersionDependsAndGroupCreatedInPostinst()
    {
        Assert.Equal("shaper", Dpkg("-f", package.Deb, "Package").Trim());
        Assert.Equal(Version, Dpkg("-f", package.Deb, "Version").Trim());
        var depends = Dpkg("-f", package.Deb, "Depends");
        Assert.Contains("libpcap0.8", depends, StringComparison.Ordinal);
        Assert.Contains("nftables | iptables", depends, StringComparison.Ordinal);

        // The group whose members may change the running daemon: created on configure, only if missing.
        var postinst = Dpkg("-I", package.Deb, "postinst");
        Assert.Contains("getent group shaper >/dev/null || addgroup --system shaper", postinst, StringComparison.Ordinal);
        Assert.Contains("delgroup --system shaper", Dpkg("-I", package.Deb, "postrm"), StringComparison.Ordinal);
    }

    [PackagingFact]
    public void Deb_ManPagesAndCompletion_AreUsable()
    {
        Assert.StartsWith(".TH SHAPERD 8 ", Gunzip(Path.Combine(package.Root, "usr/share/man/man8/shaperd.8.gz")), StringComparison.Ordinal);
        Assert.StartsWith(".TH SHAPERCTL 1 ", Gunzip(Path.Combine(package.Root, "usr/share/man/man1/shaperctl.1.gz")), StringComparison.Ordinal);
        var completion = Path.Combine(package.Root, "usr/share/bash-completion/completions/shaperctl");
        var registered = Run.Command("bash", ["-c", $"source '{completion}' && complete -p shaperctl"]).EnsureSuccess("sourcing the bash completion");
        Assert.Contains("shaperctl", registered.Output, StringComparison.Ordinal);
    }

    [PackagingFact]
    public void Deb_UnpackedRoot_ProgramsRunWithTheirOwnRuntime()
    {
        // Through the /usr/bin symlinks, as a user runs them; self-contained, so no dotnet on PATH is needed.
        var ctl = Path.Combine(package.Root, "usr/bin/shaperctl");
        var daemon = Path.Combine(package.Root, "usr/bin/shaperd");
        var version = Run.Command("env", ["-i", "PATH=/usr/bin:/bin", ctl, "--version"]).EnsureSuccess("shaperctl --version");
        Assert.Equal(Version, version.Output.Trim());

        var help = Run.Command("env", ["-i", "PATH=/usr/bin:/bin", daemon, "--help"]).EnsureSuccess("shaperd --help");
        Assert.Contains("--config <FILE>", help.Output, StringComparison.Ordinal);

        // --check on the packaged configuration, in a lab namespace (its probes make their own namespace too).
        using (var lab = NetworkLab.Create())
        {
            var check = Run.Command("ip", ["netns", "exec", lab.B, "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", daemon, "--check", "--config", Path.Combine(package.Root, "etc/shaper/shaper.toml")]);
            Assert.True(check.ExitCode == 0, check.Error + check.Output);
            var lines = check.Output.TrimEnd('\n').Split('\n');
            Assert.Contains(lines, l => l.StartsWith("nft ", StringComparison.Ordinal) && l.Contains(" works ", StringComparison.Ordinal));
            Assert.StartsWith("backend auto: usable", lines[^1], StringComparison.Ordinal);
        }

        Assert.Equal(Version, Run.Command("env", ["-i", "PATH=/usr/bin:/bin", daemon, "--version"]).EnsureSuccess("shaperd --version").Output.Trim());

        // The unit's ExecStartPre, with the packaged program on the packaged default configuration.
        var validate = Run.Command(ctl, ["rules", "validate", Path.Combine(package.Root, "etc/shaper/shaper.toml")]);
        Assert.True(validate.ExitCode == 0, validate.Error + validate.Output);
    }

    [PackagingFact(Verify = true)]
    public void Unit_AsInstalledByThePackage_PassesSystemdAnalyzeVerify()
    {
        var verify = Run.Command(RepoFile("packaging", "verify-unit.sh"), [package.Root], timeout: TimeSpan.FromSeconds(60));
        output.WriteLine($"systemd-analyze verify: exit {verify.ExitCode}\n{verify.Output}{verify.Error}");

        // verify warns on stderr and still exits 0 for some problems (an unknown Type= is "ignored"): both must be clean.
        Assert.Equal(0, verify.ExitCode);
        Assert.Equal("", (verify.Output + verify.Error).Replace("verify-unit: man is missing (Debian package man-db): not checking the Documentation= man pages\n", "", StringComparison.Ordinal));
    }

    private static string RepoFile(params string[] parts) => Path.Combine([RepoRoot.Find(), .. parts]);

    private static string Dpkg(params string[] args) => Run.Command("dpkg-deb", args).EnsureSuccess("dpkg-deb " + string.Join(' ', args)).Output;

    private static string Gunzip(string path)
    {
        using var stream = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    // "-rwxr-xr-x root/root     78256 2026-11-23 12:58 ./usr/lib/shaper/shaperd"
    [GeneratedRegex(@"^(?<mode>\S{10}) \S+ +\d+ \S+ \S+ (?<path>.+)$")]
    private static partial Regex ListingLine();
}
