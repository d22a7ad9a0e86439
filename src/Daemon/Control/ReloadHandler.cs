using Shaper.Control;

namespace Shaper.Daemon.Control;

/// <summary><c>reload</c>: re-reads the configuration file; a file with errors keeps the running rules.</summary>
internal sealed class ReloadHandler(ShaperService daemon) : ControlHandler
{
    public override string Command => "reload";

    public override async Task<ControlResponse> HandleAsync(ControlArgs args, CancellationToken cancel)
    {
        var (ok, message) = await daemon.ReloadAsync("shaperctl reload", null).ConfigureAwait(false);
        return ok ? Reply(new MessageReply(message), ControlJsonContext.Default.MessageReply) : ControlResponse.Failure(message);
    }
}
