using System.Net;
using System.Net.Sockets;
using Shaper.Netlink;
using Shaper.Queue;
using Shaper.Tests.Lab;

namespace Shaper.Tests.Queue;

/// <summary>
/// Verdicts sent several to a datagram, against the real kernel in a namespace lab: the iptables NFQUEUE rule (with
/// bypass) as the daemon's chain has it, the queue bound in this process in the lab's namespace.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class NfQueueSocketTests
{
    private const ushort Number = 1000;

    [RootFact]
    public void Flush_UnknownIdsAroundAQueuedPacket_EachUnknownAnsweredWithItsErrorThePacketStillAccepted()
    {
        using var lab = NetworkLab.Create();
        lab.Exec(lab.B, "iptables", "-A", "INPUT", "-p", "udp", "--dport", "9000", "-j", "NFQUEUE", "--queue-num", $"{Number}", "--queue-bypass").EnsureSuccess("iptables NFQUEUE");
        using var inB = new NamespaceThread(lab.B);
        using var inA = new NamespaceThread(lab.A);
        string? error = null;
        using var queue = inB.Invoke(() => NfQueueSocket.Open(Number, 128, 64, 1 << 20, TimeSpan.FromSeconds(5), out error));
        Assert.True(queue is not null, error);
        using var receiver = inB.Invoke(() =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
            socket.Bind(new IPEndPoint(IPAddress.Parse("198.18.0.2"), 9000));
            return socket;
        });
        using var sender = inA.Invoke(() => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
        sender.SendTo([1, 2, 3], new IPEndPoint(IPAddress.Parse("198.18.0.2"), 9000));

        var datagrams = new NetlinkDatagrams(8, 1024);
        Assert.Equal(1, queue.Receive(datagrams, wait: true));
        var id = PacketId(queue, datagrams[0]);

        // One datagram: a verdict for an id the kernel does not hold, the packet's, another unknown one (NLM_F_ACK off).
        queue.Verdict(id + 1000, NfQueue.Accept);
        queue.Verdict(id, NfQueue.Accept);
        queue.Verdict(id + 2000, NfQueue.Drop);
        queue.Flush();

        // The kernel answered the two unknown ids (ENOENT) before the send returned, and nothing else.
        var answers = queue.Receive(datagrams, wait: false);
        for (var i = 0; i < answers; i++)
        {
            foreach (var message in new NetlinkMessageEnumerator(datagrams[i]))
            {
                Assert.False(queue.TryReadPacket(message, out _, out _));
            }
        }

        Assert.Equal(2, answers);
        Assert.Equal(2, queue.VerdictErrors);
        Assert.Null(queue.Lost);

        var buffer = new byte[16];
        Assert.Equal(3, receiver.Receive(buffer));
        var kernel = KernelQueueStats.Parse(lab.Exec(lab.B, "cat", KernelQueueStats.Path).Output).Single(q => q.Number == Number);
        Assert.Equal(0, kernel.Waiting);
    }

    private static uint PacketId(NfQueueSocket queue, ReadOnlySpan<byte> datagram)
    {
        foreach (var message in new NetlinkMessageEnumerator(datagram))
        {
            if (queue.TryReadPacket(message, out var id, out _))
            {
                return id;
            }
        }

        throw new InvalidOperationException("the datagram held no queued packet");
    }
}
