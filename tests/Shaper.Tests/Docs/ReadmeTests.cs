using System.Diagnostics;

namespace Shaper.Tests.Docs;

public sealed class ReadmeTests
{
    [Fact]
    public void CliReference_MatchesThePrograms_HelpOutput()
    {
        var root = RepoRoot.Find();
        var start = new ProcessStartInfo(Path.Combine(root, "packaging", "cli-reference.sh"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(AppContext.BaseDirectory);
        using var process = Process.Start(start)!;
        var generated = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);

        var readme = File.ReadAllText(Path.Combine(root, "README.md"));
        const string begin = "<!-- cli:begin -->\n";
        var section = readme[(readme.IndexOf(begin, StringComparison.Ordinal) + begin.Length)..readme.IndexOf("<!-- cli:end -->", StringComparison.Ordinal)];

        // When this fails, run `make readme` and commit the README.
        Assert.Equal(generated.TrimEnd(), section.TrimEnd());
    }
}
