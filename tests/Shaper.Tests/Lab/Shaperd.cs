namespace Shaper.Tests.Lab;

/// <summary>
/// The shaperd builds the tests start. Most tests run the build's own (<see cref="Dll"/>), compiled by the runtime as
/// it runs. Tests that measure a start or a restart run <see cref="Published"/>: published self-contained as one
/// composite ReadyToRun image into <c>daemon/</c> beside the tests (tests/Directory.Build.targets), as
/// packaging/install-tree.sh publishes it, so that the time they measure is that of the code that ships.
/// </summary>
public static class Shaperd
{
    /// <summary>The build's shaperd.dll, run with <c>dotnet</c>.</summary>
    public static string Dll { get; } = Path.Combine(AppContext.BaseDirectory, "shaperd.dll");

    /// <summary>The published shaperd, self-contained: its own program (apphost) with its own runtime, run as it is.</summary>
    public static string Published { get; } = Path.Combine(AppContext.BaseDirectory, "daemon", "shaperd");
}
