namespace Shaper.Tests.Lab;

/// <summary>
/// The shaperd the tests start: published ReadyToRun into <c>daemon/</c> beside the tests (the PublishShaperd target of
/// Shaper.Tests.csproj), as packaging/install-tree.sh publishes it, so that what a test measures (a start, a restart)
/// is the code that ships rather than the build's, which the runtime compiles as it starts.
/// </summary>
public static class Shaperd
{
    /// <summary>The published shaperd.dll, run with <c>dotnet</c>.</summary>
    public static string Dll { get; } = Path.Combine(AppContext.BaseDirectory, "daemon", "shaperd.dll");
}
