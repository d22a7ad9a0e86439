namespace Shaper.Tests;

/// <summary>Finds the repository root (the folder holding Shaper.sln) from the test's output folder.</summary>
internal static class RepoRoot
{
    public static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Shaper.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Shaper.sln not found above " + AppContext.BaseDirectory);
    }
}
