namespace Shaper.Tests.Rules;

/// <summary>The repository's root: the first directory above the test binaries that holds Shaper.sln.</summary>
internal static class RepoRoot
{
    public static string Path { get; } = Find();

    public static string File(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    private static string Find()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (System.IO.File.Exists(System.IO.Path.Combine(directory.FullName, "Shaper.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no Shaper.sln above {AppContext.BaseDirectory}");
    }
}
