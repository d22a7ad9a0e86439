using System.Text.RegularExpressions;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Packaging;

/// <summary>
/// `make demo DURATION=N` as CI would run it: packaging/demo/demo.sh against this build, its own checks
/// (abusive sources limited and blocked, polite ones untouched) deciding the exit code, nothing left behind.
/// </summary>
[Collection(PackagingCollection.Name)]
public sealed partial class DemoTests(ITestOutputHelper output)
{
    [RootFact]
    public void Demo_FiveSecondsUnattended_PassesItsChecksAndLeavesNothingBehind()
    {
        var config = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        var script = Path.Combine(RepoRoot.Find(), "packaging", "demo", "demo.sh");

        var demo = Run.Command("env", ["DURATION=5", $"CONFIG={config}", script], timeout: TimeSpan.FromMinutes(2));
        output.WriteLine(demo.Output + demo.Error);

        Assert.True(demo.ExitCode == 0, $"demo exited {demo.ExitCode}: {demo.Error}");
        Assert.Contains("demo: OK: the abusive sources were limited (7000) and blocked (7001); the polite ones lost nothing", demo.Output, StringComparison.Ordinal);
        var names = Namespaces().Match(demo.Output);
        Assert.True(names.Success, "the demo did not name its namespaces");
        var left = Run.Command("ip", ["netns", "list"]).Output;
        Assert.DoesNotContain(names.Groups["a"].Value, left, StringComparison.Ordinal);
        Assert.DoesNotContain(names.Groups["b"].Value, left, StringComparison.Ordinal);
        var work = WorkDirectory().Match(demo.Output);
        Assert.True(work.Success, "the demo did not name its temporary directory");
        Assert.False(Directory.Exists(work.Groups["dir"].Value), "the demo left its temporary directory");
    }

    [GeneratedRegex(@"creating namespaces (?<a>shaper-demo-\d+-a) \(traffic\) and (?<b>shaper-demo-\d+-b)")]
    private static partial Regex Namespaces();

    [GeneratedRegex(@"shaperd\.log in (?<dir>/tmp/shaper-demo\.\w+)")]
    private static partial Regex WorkDirectory();
}
