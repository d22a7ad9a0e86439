using Shaper.Control;
using Shaper.Rules;

namespace Shaper.Daemon.Control;

/// <summary><c>block.add</c>: blocks an address or CIDR in the kernel for a time.</summary>
internal sealed class BlockAddHandler(ShaperService daemon) : ControlHandler
{
    public override string Command => "block.add";

    public override async Task<ControlResponse> HandleAsync(ControlArgs args, CancellationToken cancel)
    {
        if (!BlockAddress.TryParse(args.Text("address"), out var network, out var error))
        {
            return ControlResponse.Failure(error);
        }

        var forText = args.Text("for") ?? "10m";
        if (!DurationParser.TryParse(forText, out var ttl, out _) || ttl <= TimeSpan.Zero)
        {
            return ControlResponse.Failure($"--for '{forText}' is not a duration such as 30s, 10m or 1h");
        }

        // Answered once the kernel holds the block, or with the kernel's reason when it refused it.
        if (await daemon.Kernel.Blocks.AddAsync(network, ttl).ConfigureAwait(false) is { } refused)
        {
            return ControlResponse.Failure($"the kernel refused the block of {network}: {refused}");
        }

        return Reply(new BlockAddReply(network.ToString(), ttl.TotalSeconds), ControlJsonContext.Default.BlockAddReply);
    }
}
