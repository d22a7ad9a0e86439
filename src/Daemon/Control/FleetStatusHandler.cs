using Shaper.Control;

namespace Shaper.Daemon.Control;

/// <summary><c>fleet.status</c>: this host's sync with the fleet store (<c>shaperctl fleet status</c>).</summary>
internal sealed class FleetStatusHandler(ShaperService daemon) : ControlHandler
{
    public override string Command => "fleet.status";

    public override Task<ControlResponse> HandleAsync(ControlArgs args, CancellationToken cancel) =>
        Task.FromResult(daemon.Fleet is { } fleet
            ? Reply(FleetStatusReply.Of(fleet), ControlJsonContext.Default.FleetStatusReply)
            : ControlResponse.Failure("no fleet: the configuration has no [fleet] section with a scope = \"fleet\" rule"));
}
