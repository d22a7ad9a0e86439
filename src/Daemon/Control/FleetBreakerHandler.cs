using Shaper.Control;

namespace Shaper.Daemon.Control;

/// <summary>
/// <c>fleet.breaker</c> with <c>action</c> open, close or disable (<c>shaperctl fleet breaker ...</c>): sets the
/// store's circuit breaker by hand (open is FORCED_OPEN: it stays open until closed or disabled by hand) and answers
/// the fleet status after it.
/// </summary>
internal sealed class FleetBreakerHandler(ShaperService daemon) : ControlHandler
{
    public override string Command => "fleet.breaker";

    public override Task<ControlResponse> HandleAsync(ControlArgs args, CancellationToken cancel)
    {
        if (daemon.Fleet is not { } fleet)
        {
            return Task.FromResult(ControlResponse.Failure("no fleet: the configuration has no [fleet] section with a scope = \"fleet\" rule"));
        }

        var breaker = fleet.Sync.Policy.Breaker;
        switch (args.Text("action"))
        {
            case "open":
                breaker.ForceOpen();
                break;
            case "close":
                breaker.Close();
                break;
            case "disable":
                breaker.Disable();
                break;
            case var other:
                return Task.FromResult(ControlResponse.Failure($"breaker action '{other}' is not open, close or disable"));
        }

        return Task.FromResult(Reply(FleetStatusReply.Of(fleet), ControlJsonContext.Default.FleetStatusReply));
    }
}
