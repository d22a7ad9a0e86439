using Shaper.Control;
using Shaper.Rules;

namespace Shaper.Daemon.Control;

/// <summary><c>rules.show</c>: one running rule, every field.</summary>
internal sealed class RulesShowHandler(ShaperService daemon) : ControlHandler
{
    public override string Command => "rules.show";

    public override Task<ControlResponse> HandleAsync(ControlArgs args, CancellationToken cancel)
    {
        var name = args.Text("name");
        var rule = daemon.Config.Rules.FirstOrDefault(r => r.Name == name);
        return Task.FromResult(rule is null
            ? ControlResponse.Failure($"no rule named '{name}'; 'shaperctl rules list' shows the running rules")
            : Reply(RuleJson.Write(rule)));
    }
}
