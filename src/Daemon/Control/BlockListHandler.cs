using Shaper.Control;

namespace Shaper.Daemon.Control;

/// <summary><c>block.list</c>: the active blocks with the time each has left.</summary>
internal sealed class BlockListHandler(ShaperService daemon) : ControlHandler
{
    public override string Command => "block.list";

    public override Task<ControlResponse> HandleAsync(ControlArgs args, CancellationToken cancel) =>
        Task.FromResult(Reply(new BlockListReply(daemon.Kernel.Blocks.List()), ControlJsonContext.Default.BlockListReply));
}
