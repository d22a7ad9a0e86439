using Shaper.Netlink;
using Shaper.Tests.Lab;

namespace Shaper.Tests.Netlink;

/// <summary>
/// Several datagrams in one receive (recvmmsg into <see cref="NetlinkDatagrams"/>), against the real kernel in a lab
/// namespace: the kernel answers each acknowledged NLMSG_NOOP of a sent datagram with a datagram of its own (an ack,
/// errno 0) before the send returns, and changes nothing.
/// </summary>
public sealed class NetlinkDatagramsTests
{
    [RootFact]
    public void Receive_FiveAnswersWaiting_TakesThemAllInOneCallInOrder()
    {
        using var lab = NetworkLab.Create();
        using var inB = new NamespaceThread(lab.B);
        var sequences = inB.Invoke(() =>
        {
            using var socket = NetlinkSocket.TryOpen()!;
            var datagrams = new NetlinkDatagrams(8, 256);
            var first = SendNoops(socket, 5);
            var received = socket.Receive(datagrams, wait: false);
            var answers = new List<uint>();
            for (var i = 0; i < received; i++)
            {
                answers.Add(AckedSequence(datagrams[i]) - first);
            }

            Assert.Equal(0, socket.Receive(datagrams, wait: false));
            return answers;
        });

        Assert.Equal([0u, 1u, 2u, 3u, 4u], sequences);
    }

    [RootFact]
    public void Receive_MoreWaitingThanSlots_TakesTheSlotsFullThenTheRest()
    {
        using var lab = NetworkLab.Create();
        using var inB = new NamespaceThread(lab.B);
        var counts = inB.Invoke(() =>
        {
            using var socket = NetlinkSocket.TryOpen()!;
            var datagrams = new NetlinkDatagrams(3, 256);
            SendNoops(socket, 5);
            return new[] { socket.Receive(datagrams, wait: true), socket.Receive(datagrams, wait: true), socket.Receive(datagrams, wait: false) };
        });

        Assert.Equal([3, 2, 0], counts);
    }

    [RootFact]
    public void Receive_NothingComesWhileWaiting_ZeroAfterTheReceiveTimeout()
    {
        using var lab = NetworkLab.Create();
        using var inB = new NamespaceThread(lab.B);
        var received = inB.Invoke(() =>
        {
            using var socket = NetlinkSocket.TryOpen()!;
            socket.SetReceiveTimeout(TimeSpan.FromMilliseconds(20));
            return socket.Receive(new NetlinkDatagrams(4, 256), wait: true);
        });

        Assert.Equal(0, received);
    }

    [RootFact]
    public void Receive_AnswerLongerThanItsSlot_CutToTheSlotAndMarkedTruncated()
    {
        using var lab = NetworkLab.Create();
        using var inB = new NamespaceThread(lab.B);
        var (received, length, truncated) = inB.Invoke(() =>
        {
            using var socket = NetlinkSocket.TryOpen()!;
            var datagrams = new NetlinkDatagrams(2, Nl.HeaderLength);
            SendNoops(socket, 1);
            var count = socket.Receive(datagrams, wait: false);
            return (count, datagrams[0].Length, datagrams.Truncated(0));
        });

        // An ack is a header, the errno and the request's header: 36 bytes, cut to the 16 of the slot.
        Assert.Equal(1, received);
        Assert.Equal(Nl.HeaderLength, length);
        Assert.True(truncated);
    }

    /// <summary>Sends <paramref name="count"/> acknowledged NLMSG_NOOPs in one datagram; returns the first's sequence number.</summary>
    private static uint SendNoops(NetlinkSocket socket, int count)
    {
        var writer = new NetlinkWriter(256);
        uint first = 0;
        for (var i = 0; i < count; i++)
        {
            writer.Message(Nl.Noop, Nl.Request | Nl.Ack);
            first = i == 0 ? writer.Sequence : first;
        }

        Assert.Null(socket.Send(writer.Written));
        return first;
    }

    private static uint AckedSequence(ReadOnlySpan<byte> datagram)
    {
        var enumerator = new NetlinkMessageEnumerator(datagram);
        Assert.True(enumerator.MoveNext());
        Assert.True(enumerator.Current.TryGetError(out var errno, out var sequence));
        Assert.Equal(0, errno);
        return sequence;
    }
}
