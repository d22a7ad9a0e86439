using Shaper.Control;

namespace Shaper.Daemon.Control;

/// <summary>
/// <c>block.del</c>: removes a block; a block the fleet shares (installed from it, or decided by a fleet rule) is also
/// deleted from the fleet with the next sync, so every host removes it and none publishes it again.
/// </summary>
internal sealed class BlockDelHandler(ShaperService daemon) : ControlHandler
{
    public override string Command => "block.del";

    public override Task<ControlResponse> HandleAsync(ControlArgs args, CancellationToken cancel)
    {
        if (!BlockAddress.TryParse(args.Text("address"), adding: false, force: false, out var network, out var error))
        {
            return Task.FromResult(ControlResponse.Failure(error));
        }

        var source = daemon.Kernel.Blocks.SourceOf(network);
        return Task.FromResult(daemon.Kernel.Blocks.Remove(network) switch
        {
            (false, _) => ControlResponse.Failure($"{network} is not blocked"),
            (true, { } failed) => ControlResponse.Failure($"the kernel kept the block of {network}: {failed}"),
            _ => Reply(new BlockDelReply(network.ToString(), daemon.Fleet?.Delete(network, source) ?? false), ControlJsonContext.Default.BlockDelReply),
        });
    }
}
