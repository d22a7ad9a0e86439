using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Shaper.Control;

/// <summary>The process on the other end of a Unix socket, from <c>SO_PEERCRED</c>: the kernel's word, not the client's.</summary>
public readonly record struct PeerCredentials(int Pid, uint Uid, uint Gid)
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    /// <summary>Reads the peer's credentials of a connected Unix socket; null when the kernel does not say.</summary>
    public static PeerCredentials? Of(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        var cred = default(UCred);
        var length = Marshal.SizeOf<UCred>();
        return GetSockOpt((int)socket.Handle, SolSocket, SoPeerCred, ref cred, ref length) == 0
            ? new PeerCredentials(cred.Pid, cred.Uid, cred.Gid)
            : null;
    }

    [DllImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    private static extern int GetSockOpt(int fd, int level, int name, ref UCred value, ref int length);

    [StructLayout(LayoutKind.Sequential)]
    private struct UCred
    {
        public int Pid;
        public uint Uid;
        public uint Gid;
    }
}
