using System.Net.Sockets;

namespace Shaper.Control;

/// <summary>
/// One client of the control socket as the server tracks it: its socket, a token that ends it, and when it last
/// made progress (a request read or a reply written), so that a full server can drop the stalest client.
/// </summary>
internal sealed class ControlConnection : IDisposable
{
    private readonly CancellationTokenSource _end;
    private long _lastProgress;

    public ControlConnection(Socket socket, long now, CancellationToken serverStop)
    {
        Socket = socket;
        _end = CancellationTokenSource.CreateLinkedTokenSource(serverStop);
        _lastProgress = now;
    }

    public Socket Socket { get; }

    /// <summary>Cancelled when the server stops or drops this client.</summary>
    public CancellationToken Token => _end.Token;

    /// <summary>The <see cref="TimeProvider.GetTimestamp"/> of the last request read or reply written.</summary>
    public long LastProgress => Volatile.Read(ref _lastProgress);

    public void Progress(long now) => Volatile.Write(ref _lastProgress, now);

    /// <summary>Ends the client: a pending read or write returns at once.</summary>
    public void Drop()
    {
        try
        {
            _end.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // It ended on its own meanwhile.
        }
    }

    public void Dispose()
    {
        Socket.Dispose();
        _end.Dispose();
    }
}
