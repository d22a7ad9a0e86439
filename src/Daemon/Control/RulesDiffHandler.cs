using Shaper.Control;
using Shaper.Rules;

namespace Shaper.Daemon.Control;

/// <summary><c>rules.diff</c>: what applying a file would change, without applying it.</summary>
internal sealed class RulesDiffHandler(ShaperService daemon) : ControlHandler
{
    public override string Command => "rules.diff";

    public override Task<ControlResponse> HandleAsync(ControlArgs args, CancellationToken cancel)
    {
        var candidate = ConfigLoader.Parse(args.Text("text") ?? "", args.Text("file") ?? "(file)");
        return Task.FromResult(candidate.Config is { } proposed
            ? Reply(RuleJson.Diff(daemon.Config.Rules, proposed.Rules))
            : ControlResponse.Failure(string.Join("; ", candidate.Diagnostics.Where(d => d.IsError))));
    }
}
