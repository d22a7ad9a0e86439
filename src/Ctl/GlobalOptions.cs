using System.CommandLine;

namespace Shaper.Ctl;

/// <summary>The options every shaperctl command takes (DESIGN.md: <c>shaperctl [--socket PATH] [--json] COMMAND</c>).</summary>
internal sealed class GlobalOptions
{
    /// <summary><c>--json</c>: stable machine-readable output on stdout instead of text.</summary>
    public Option<bool> Json { get; } = new("--json")
    {
        Description = "Print machine-readable JSON on stdout instead of text.",
        Recursive = true,
    };

    public void AddTo(RootCommand root) => root.Options.Add(Json);
}
