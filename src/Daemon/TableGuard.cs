using System.Net.Sockets;
using Shaper.Control;

namespace Shaper.Daemon;

/// <summary>
/// One shaperd per network namespace, whatever its socket: the table <c>inet shaper</c> is per namespace, and a
/// second daemon with another runtime directory would adopt the first's table and remove it when it stops. The
/// guard is a listening abstract Unix socket (<c>@shaper/shaperd</c>): abstract names belong to the network
/// namespace, vanish with the process that bound them (even after <c>kill -9</c>) and leave no file behind. A
/// second daemon's bind fails, and connecting to the name tells it the first's PID (<c>SO_PEERCRED</c>).
/// </summary>
internal sealed class TableGuard : IDisposable
{
    private const string Name = "\0shaper/shaperd";

    private readonly Socket _socket;

    private TableGuard(Socket socket) => _socket = socket;

    /// <summary>Takes the guard; null with <paramref name="error"/> (naming the holder's PID) when another shaperd has it.</summary>
    public static TableGuard? TryAcquire(out string error)
    {
        error = "";
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(Name));
            socket.Listen(4);
            return new TableGuard(socket);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            var holder = Holder();
            error = $"another shaperd{(holder is null ? "" : $" (pid {holder})")} already runs in this network namespace and owns its table inet shaper; stop it first (systemctl stop shaperd)";
            return null;
        }
    }

    public void Dispose() => _socket.Dispose();

    private static int? Holder()
    {
        try
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            probe.Connect(new UnixDomainSocketEndPoint(Name));
            return PeerCredentials.Of(probe)?.Pid;
        }
        catch (SocketException)
        {
            return null;
        }
    }
}
