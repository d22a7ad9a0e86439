using Shaper.Control;
using Shaper.Rules;

namespace Shaper.Daemon.Control;

/// <summary>
/// <c>block.add</c>: blocks an address or CIDR in the kernel for a time. The address is read strictly
/// (<see cref="BlockAddress"/>); <c>[[allow]]</c> always wins: a block inside an allowed network is refused, and
/// allowed networks inside a wider block stay exempt (named in the reply).
/// </summary>
internal sealed class BlockAddHandler(ShaperService daemon) : ControlHandler
{
    public override string Command => "block.add";

    public override async Task<ControlResponse> HandleAsync(ControlArgs args, CancellationToken cancel)
    {
        if (!BlockAddress.TryParse(args.Text("address"), adding: true, args.Flag("force"), out var network, out var error))
        {
            return ControlResponse.Failure(error);
        }

        var forText = args.Text("for") ?? "10m";
        if (!DurationParser.TryParse(forText, out var ttl, out _) || ttl <= TimeSpan.Zero)
        {
            return ControlResponse.Failure($"--for '{forText}' is not a duration such as 30s, 10m or 1h");
        }

        var exempt = BlockAddress.AllowedWithin(network, daemon.Config.Allow, out var inside);
        if (inside is { } allowed)
        {
            return ControlResponse.Failure($"{network} is inside [[allow]] {allowed}: allowed addresses are never blocked");
        }

        // Answered once the kernel holds the block, or with the kernel's reason when it refused it.
        if (await daemon.Kernel.Blocks.AddAsync(network, ttl).ConfigureAwait(false) is { } refused)
        {
            return ControlResponse.Failure($"the kernel refused the block of {network}: {refused}");
        }

        return Reply(
            new BlockAddReply(network.ToString(), ttl.TotalSeconds, [.. exempt.Select(n => n.ToString())]),
            ControlJsonContext.Default.BlockAddReply);
    }
}
