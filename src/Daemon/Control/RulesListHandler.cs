using Shaper.Control;
using Shaper.Rules;

namespace Shaper.Daemon.Control;

/// <summary><c>rules.list</c>: the running rules in the file's own words.</summary>
internal sealed class RulesListHandler(ShaperService daemon) : ControlHandler
{
    public override string Command => "rules.list";

    public override Task<ControlResponse> HandleAsync(ControlArgs args, CancellationToken cancel) =>
        Task.FromResult(Reply(new RulesListReply([.. daemon.Config.Rules.Select(RuleJson.Write)]), ControlJsonContext.Default.RulesListReply));
}
