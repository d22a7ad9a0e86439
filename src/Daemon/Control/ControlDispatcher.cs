using System.Collections.Frozen;
using Shaper.Control;

namespace Shaper.Daemon.Control;

/// <summary>Routes each control request to the handler of its command; a bad argument becomes a one-line error.</summary>
internal sealed class ControlDispatcher
{
    private readonly FrozenDictionary<string, ControlHandler> _handlers;

    public ControlDispatcher(IEnumerable<ControlHandler> handlers)
    {
        _handlers = handlers.ToFrozenDictionary(h => h.Command, StringComparer.Ordinal);
    }

    /// <summary>The commands served, for tests and help.</summary>
    public IEnumerable<string> Commands => _handlers.Keys;

    public async Task<ControlResponse> HandleAsync(ControlRequest request, PeerCredentials peer, CancellationToken cancel)
    {
        if (!_handlers.TryGetValue(request.Command, out var handler))
        {
            return ControlResponse.Failure($"unknown command '{request.Command}'");
        }

        try
        {
            return await handler.HandleAsync(new ControlArgs(request.Args), cancel).ConfigureAwait(false);
        }
        catch (ControlArgumentException e)
        {
            return ControlResponse.Failure($"{request.Command}: {e.Message}");
        }
    }
}
