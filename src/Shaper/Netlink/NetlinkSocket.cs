using System.Buffers.Binary;
using System.Runtime.InteropServices;

using Shaper.Interop;

namespace Shaper.Netlink;

/// <summary>
/// A raw netlink socket (<c>AF_NETLINK</c>) in the caller's network namespace: sends a written buffer to the
/// kernel, receives datagrams into a caller's buffer, and can join multicast groups (nftables' change
/// notifications). The socket belongs to the namespace of the thread that opened it.
/// </summary>
internal sealed partial class NetlinkSocket : IDisposable
{
    private const int AfNetlink = 16;
    private const int SockRaw = 3;
    private const int SockCloexec = 0x80000;
    private const int SolSocket = 1;
    private const int SoRcvbuf = 8;
    private const int SoSndbuf = 7;
    private const int SoRcvbufForce = 33;
    private const int SoSndbufForce = 32;
    private const int SoRcvtimeo = 20;
    private const int SolNetlink = 270;
    private const int NetlinkAddMembership = 1;
    private const int NetlinkDropMembership = 2;
    private const int MsgDontwait = 0x40;
    private const int MsgWaitForOne = 0x10000;
    private const int Eagain = 11;
    private const int Eintr = 4;

    private int _fd;

    private NetlinkSocket(int fd) => _fd = fd;

    /// <summary>Opens a socket for <paramref name="protocol"/> (12: netfilter); null when the kernel refuses.</summary>
    public static NetlinkSocket? TryOpen(int protocol = Nl.NetlinkNetfilter)
    {
        var fd = LibC.Socket(AfNetlink, SockRaw | SockCloexec, protocol);
        return fd < 0 ? null : new NetlinkSocket(fd);
    }

    /// <summary>How long a blocking receive waits before it gives up.</summary>
    public unsafe void SetReceiveTimeout(TimeSpan timeout)
    {
        var value = stackalloc long[] { (long)timeout.TotalSeconds, timeout.Microseconds + (timeout.Milliseconds * 1000L) }; // struct timeval
        _ = LibC.SetSockOpt(_fd, SolSocket, SoRcvtimeo, value, 16);
    }

    /// <summary>
    /// Sizes the send and receive buffers (above the system maximum where the process may, as root may); a bigger
    /// send buffer lets one send carry a bigger transaction, a bigger receive buffer holds a burst of notifications.
    /// </summary>
    public void SetBuffers(int send, int receive)
    {
        if (!SetInt(SolSocket, SoSndbufForce, send))
        {
            _ = SetInt(SolSocket, SoSndbuf, send);
        }

        if (!SetInt(SolSocket, SoRcvbufForce, receive))
        {
            _ = SetInt(SolSocket, SoRcvbuf, receive);
        }
    }

    /// <summary>
    /// Binds the socket (the kernel picks its port id) and joins multicast group <paramref name="group"/>; false
    /// when the kernel refuses. A socket that is not bound hears no multicast.
    /// </summary>
    public unsafe bool Join(int group)
    {
        Span<byte> local = stackalloc byte[12]; // struct sockaddr_nl: family, pad, pid 0 (the kernel assigns one), groups
        local.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(local, AfNetlink);
        fixed (byte* address = local)
        {
            if (LibC.Bind(_fd, address, 12) != 0)
            {
                return false;
            }
        }

        return SetInt(SolNetlink, NetlinkAddMembership, group);
    }

    /// <summary>Joins multicast group <paramref name="group"/> again after <see cref="Leave"/> (the socket stays bound); false when the kernel refuses.</summary>
    public bool Rejoin(int group) => SetInt(SolNetlink, NetlinkAddMembership, group);

    /// <summary>Leaves multicast group <paramref name="group"/>: nothing more of it is queued until <see cref="Rejoin"/>; false when the kernel refuses.</summary>
    public bool Leave(int group) => SetInt(SolNetlink, NetlinkDropMembership, group);

    /// <summary>Sets an integer socket option; false when the kernel refuses it.</summary>
    public unsafe bool SetInt(int level, int name, int value) => LibC.SetSockOpt(_fd, level, name, &value, sizeof(int)) == 0;

    /// <summary>Sends <paramref name="data"/> to the kernel in one datagram; null on success, else why.</summary>
    public unsafe string? Send(ReadOnlySpan<byte> data)
    {
        Span<byte> kernel = stackalloc byte[12]; // struct sockaddr_nl, port 0: the kernel
        kernel.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(kernel, AfNetlink);
        fixed (byte* bytes = data)
        fixed (byte* to = kernel)
        {
            var sent = LibC.SendTo(_fd, bytes, data.Length, 0, to, 12);
            return sent == data.Length ? null : $"netlink send failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}";
        }
    }

    /// <summary>
    /// Receives one datagram into <paramref name="buffer"/>: its length, 0 when <paramref name="wait"/> is false and
    /// nothing is there, or minus the errno (ENOBUFS: notifications were lost because the buffer overflowed).
    /// </summary>
    public unsafe int Receive(Span<byte> buffer, bool wait = true)
    {
        fixed (byte* data = buffer)
        {
            var received = LibC.Recv(_fd, data, buffer.Length, wait ? 0 : MsgDontwait);
            if (received >= 0)
            {
                return (int)received;
            }

            var errno = Marshal.GetLastPInvokeError();
            return !wait && errno == Eagain ? 0 : -errno;
        }
    }

    /// <summary>
    /// Receives as many datagrams as are there, up to <paramref name="datagrams"/>' capacity, in one system call
    /// (<c>recvmmsg</c>): with <paramref name="wait"/>, waits for the first up to the socket's receive timeout
    /// (<c>MSG_WAITFORONE</c>), then takes only what is already there. Returns how many, 0 when none came (nothing there,
    /// the timeout, a signal), or minus the errno (ENOBUFS: messages were lost because the buffer overflowed).
    /// </summary>
    public unsafe int Receive(NetlinkDatagrams datagrams, bool wait)
    {
        ArgumentNullException.ThrowIfNull(datagrams);
        var received = LibC.RecvMmsg(_fd, datagrams.Headers, (uint)datagrams.Capacity, wait ? MsgWaitForOne : MsgDontwait, null);
        if (received >= 0)
        {
            return received;
        }

        var errno = Marshal.GetLastPInvokeError();
        return errno is Eagain or Eintr ? 0 : -errno;
    }

    /// <summary>
    /// Waits until a datagram can be read or <paramref name="timeoutNs"/> has passed (ppoll, nanosecond timeout; 0
    /// only looks); true when one is there. An interrupted wait returns false, as a timeout does.
    /// </summary>
    public bool Wait(long timeoutNs) => ReadPoll.Wait(_fd, -1, Math.Max(timeoutNs, 0)).Any;

    /// <summary>
    /// Waits until a datagram can be read, <paramref name="wake"/> is signalled, or <paramref name="timeoutNs"/> has
    /// passed; true when a datagram is there. The wake-up is left set (the caller that signalled it decides).
    /// </summary>
    public bool Wait(long timeoutNs, WakeEvent wake)
    {
        ArgumentNullException.ThrowIfNull(wake);
        return ReadPoll.Wait(_fd, wake.Fd, Math.Max(timeoutNs, 0)).First;
    }

    /// <summary>As <see cref="Wait(long, WakeEvent)"/>, ended also by <paramref name="other"/>.</summary>
    public bool Wait(long timeoutNs, WakeEvent wake, WakeEvent other)
    {
        ArgumentNullException.ThrowIfNull(wake);
        ArgumentNullException.ThrowIfNull(other);
        return ReadPoll.Wait(_fd, wake.Fd, other.Fd, Math.Max(timeoutNs, 0)).First;
    }

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            _ = LibC.Close(fd);
        }
    }
}
