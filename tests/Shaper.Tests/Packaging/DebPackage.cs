using Shaper.Tests.Lab;

namespace Shaper.Tests.Packaging;

/// <summary>
/// The .deb built once by <c>packaging/build-deb.sh</c> into a temporary directory and unpacked with
/// <c>dpkg-deb -x</c> into a throwaway root, as a user's machine would hold it. Built on first use, so that a
/// run where every package test is skipped does not pay for the self-contained publish.
/// </summary>
public sealed class DebPackage : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("shaper-deb-").FullName;
    private readonly Lazy<(string Deb, string Root)> _built;

    public DebPackage()
    {
        _built = new(Build);
    }

    /// <summary>The .deb file.</summary>
    public string Deb => _built.Value.Deb;

    /// <summary>The package's files unpacked under a throwaway root.</summary>
    public string Root => _built.Value.Root;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private (string Deb, string Root) Build()
    {
        var output = Path.Combine(_directory, "out");
        Run.Command(
                Path.Combine(RepoRoot.Find(), "packaging", "build-deb.sh"),
                [Path.Combine(_directory, "stage"), output],
                timeout: TimeSpan.FromMinutes(10))
            .EnsureSuccess("packaging/build-deb.sh");
        var deb = Directory.GetFiles(output, "shaper_*.deb").Single();
        var root = Path.Combine(_directory, "root");
        Run.Command("dpkg-deb", ["-x", deb, root]).EnsureSuccess("dpkg-deb -x");
        return (deb, root);
    }
}
