using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using Shaper.Interop;
using Shaper.Netlink;
using Shaper.Queue;

namespace Shaper.Tests.Queue;

/// <summary>
/// Takes an NFQUEUE queue from under the daemon that bound it, as a fault would: the test borrows the daemon's own
/// nfnetlink socket (pidfd_getfd, Linux 5.6, a duplicate of the same open socket and so the same netlink port id) and
/// sends NFQNL_CFG_CMD_UNBIND on it. The kernel destroys the queue (dropping what it held) and sends the daemon nothing
/// more; the rule's bypass passes the packets. The socket is found by the port id the kernel shows for the queue
/// (<c>/proc/PID/net/netfilter/nfnetlink_queue</c>) in the process's netlink socket list (<c>/proc/PID/net/netlink</c>,
/// whose last column is the socket's inode) among its descriptors.
/// </summary>
internal static partial class QueueUnbinder
{
    private const long SysPidfdOpen = 434; // x86_64
    private const long SysPidfdGetfd = 438;
    private const int NetlinkNetfilter = 12;

    /// <summary>Unbinds queue <paramref name="number"/> on process <paramref name="pid"/>'s socket.</summary>
    public static unsafe void Unbind(int pid, int number)
    {
        var queue = KernelQueueStats.Parse(File.ReadAllText($"/proc/{pid}/net/netfilter/nfnetlink_queue")).Single(q => q.Number == number);
        var inode = File.ReadLines($"/proc/{pid}/net/netlink").Skip(1)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Single(f => f[1] == NetlinkNetfilter.ToString(CultureInfo.InvariantCulture) && f[2] == queue.PortId.ToString(CultureInfo.InvariantCulture))[^1];
        var fd = Directory.GetFiles($"/proc/{pid}/fd")
            .Single(f => new FileInfo(f).LinkTarget == $"socket:[{inode}]");
        var pidfd = (int)Syscall(SysPidfdOpen, pid, 0, 0);
        Assert.True(pidfd >= 0, $"pidfd_open({pid}): errno {Marshal.GetLastPInvokeError()}");
        try
        {
            var borrowed = (int)Syscall(SysPidfdGetfd, pidfd, int.Parse(Path.GetFileName(fd), CultureInfo.InvariantCulture), 0);
            Assert.True(borrowed >= 0, $"pidfd_getfd: errno {Marshal.GetLastPInvokeError()}");
            try
            {
                var writer = new NetlinkWriter(64);
                var start = writer.BeginMessage(NfQueue.MsgConfig, Nl.Request, 0, (ushort)number); // no acknowledgement: the daemon reads this socket
                writer.Attribute(NfQueue.CfgCmd, 4)[0] = NfQueue.CmdUnbind;
                writer.EndMessage(start);
                Span<byte> kernel = stackalloc byte[12]; // struct sockaddr_nl, port 0
                kernel.Clear();
                BinaryPrimitives.WriteUInt16LittleEndian(kernel, 16); // AF_NETLINK
                var message = writer.Written;
                fixed (byte* bytes = message)
                fixed (byte* to = kernel)
                {
                    Assert.Equal(message.Length, LibC.SendTo(borrowed, bytes, message.Length, 0, to, 12));
                }
            }
            finally
            {
                _ = LibC.Close(borrowed);
            }
        }
        finally
        {
            _ = LibC.Close(pidfd);
        }
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long a, long b, long c);
}
