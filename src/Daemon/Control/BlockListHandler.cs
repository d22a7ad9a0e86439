using Shaper.Control;

namespace Shaper.Daemon.Control;

/// <summary><c>block.list</c>: the active blocks with the time each has left and who decided it.</summary>
internal sealed class BlockListHandler(ShaperService daemon) : ControlHandler
{
    public override string Command => "block.list";

    public override Task<ControlResponse> HandleAsync(ControlArgs args, CancellationToken cancel)
    {
        var blocks = daemon.Kernel.Blocks.ActiveWithSources();
        var lines = new List<string>(blocks.Count);
        var entries = new List<BlockListEntry>(blocks.Count);
        foreach (var (network, left, source) in blocks)
        {
            var seconds = Math.Ceiling(left.TotalSeconds);
            var (kind, detail) = BlockSource.Parse(source);
            lines.Add($"{network} expires in {seconds}s");
            entries.Add(new BlockListEntry
            {
                Network = network.ToString(),
                ExpiresInS = seconds,
                Source = kind,
                Rule = kind == "rule" ? detail : null,
                Origin = kind == "fleet" ? detail : null,
            });
        }

        return Task.FromResult(Reply(new BlockListReply(lines, entries), ControlJsonContext.Default.BlockListReply));
    }
}
