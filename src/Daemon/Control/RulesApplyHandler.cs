using Shaper.Control;

namespace Shaper.Daemon.Control;

/// <summary><c>rules.apply</c>: replaces the running rules with a file's, all or nothing.</summary>
internal sealed class RulesApplyHandler(ShaperService daemon) : ControlHandler
{
    public override string Command => "rules.apply";

    public override async Task<ControlResponse> HandleAsync(ControlArgs args, CancellationToken cancel)
    {
        var (ok, message) = await daemon.ReloadAsync("shaperctl rules apply", args.Text("text") ?? "").ConfigureAwait(false);
        return ok ? Reply(new MessageReply(message), ControlJsonContext.Default.MessageReply) : ControlResponse.Failure(message);
    }
}
