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

    public Option<string> Socket { get; } = new("--socket")
    {
        Description = "The daemon's control socket.",
        HelpName = "PATH",
        Recursive = true,
        DefaultValueFactory = _ => "/run/shaper/shaperd.sock",
    };

    public Option<double> Timeout { get; } = new("--timeout")
    {
        Description = "Seconds to wait for the daemon, retries included.",
        HelpName = "SECONDS",
        Recursive = true,
        DefaultValueFactory = _ => 5,
    };

    public void AddTo(RootCommand root)
    {
        root.Options.Add(Json);
        root.Options.Add(Socket);
        root.Options.Add(Timeout);
    }
}
