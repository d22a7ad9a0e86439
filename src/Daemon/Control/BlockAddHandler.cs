using Shaper.Control;
using Shaper.Rules;

namespace Shaper.Daemon.Control;

/// <summary><c>block.add</c>: blocks an address or CIDR in the kernel for a time.</summary>
internal sealed class BlockAddHandler(ShaperService daemon) : ControlHandler
{
    public override string Command => "block.add";

    public override Task<ControlResponse> HandleAsync(ControlArgs args, CancellationToken cancel)
    {
        if (!BlockAddress.TryParse(args.Text("address"), out var network, out var error))
        {
            return Task.FromResult(ControlResponse.Failure(error));
        }

        var forText = args.Text("for") ?? "10m";
        if (!DurationParser.TryParse(forText, out var ttl, out _) || ttl <= TimeSpan.Zero)
        {
            return Task.FromResult(ControlResponse.Failure($"--for '{forText}' is not a duration such as 30s, 10m or 1h"));
        }

        daemon.Kernel.Block(network, ttl);
        return Task.FromResult(Reply(new BlockAddReply(network.ToString(), ttl.TotalSeconds), ControlJsonContext.Default.BlockAddReply));
    }
}
