using System.Net.Sockets;
using System.Runtime.InteropServices;

using Shaper.Interop;

namespace Shaper.Control;

/// <summary>The process on the other end of a Unix socket, from <c>SO_PEERCRED</c>: the kernel's word, not the client's.</summary>
public readonly record struct PeerCredentials(int Pid, uint Uid, uint Gid)
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    /// <summary>Reads the peer's credentials of a connected Unix socket; null when the kernel does not say.</summary>
    public static unsafe PeerCredentials? Of(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        var cred = default(UCred);
        var length = sizeof(UCred);
        return LibC.GetSockOpt((int)socket.Handle, SolSocket, SoPeerCred, &cred, ref length) == 0
            ? new PeerCredentials(cred.Pid, cred.Uid, cred.Gid)
            : null;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct UCred
    {
        public int Pid;
        public uint Uid;
        public uint Gid;
    }
}
