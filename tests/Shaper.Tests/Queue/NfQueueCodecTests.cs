using System.Buffers.Binary;
using Shaper.Netlink;
using Shaper.Queue;

namespace Shaper.Tests.Queue;

/// <summary>The NFQUEUE messages as bytes, against the layout of the kernel's nfnetlink_queue.h; no kernel needed.</summary>
public sealed class NfQueueCodecTests
{
    [Fact]
    public void WriteVerdict_AcceptPacket_IsOneVerdictMessageForItsQueueAndId()
    {
        var writer = new NetlinkWriter(64);
        NfQueueSocket.WriteVerdict(writer, 1000, 0x01020304, NfQueue.Accept);
        var bytes = writer.Written.ToArray();

        Assert.Equal(32, bytes.Length); // nlmsghdr 16 + nfgenmsg 4 + NFQA_VERDICT_HDR (4 + 8)
        Assert.Equal(32u, BinaryPrimitives.ReadUInt32LittleEndian(bytes));
        Assert.Equal((3 << 8) | 1, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(4))); // NFNL_SUBSYS_QUEUE, NFQNL_MSG_VERDICT
        Assert.Equal(Nl.Request, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(6)));
        Assert.Equal(1000, BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(18))); // res_id: the queue number
        Assert.Equal(12, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(20)));
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(22))); // NFQA_VERDICT_HDR
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(24))); // NF_ACCEPT
        Assert.Equal(0x01020304u, BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(28)));
    }

    [Fact]
    public void WriteVerdict_RepeatWithMark_CarriesTheMarkAfterTheHeader()
    {
        var writer = new NetlinkWriter(64);
        NfQueueSocket.WriteVerdict(writer, 1000, 7, NfQueue.Repeat, 0x53480001);
        var bytes = writer.Written.ToArray();

        Assert.Equal(40, bytes.Length); // and NFQA_MARK (4 + 4)
        Assert.Equal(40u, BinaryPrimitives.ReadUInt32LittleEndian(bytes));
        Assert.Equal(4u, BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(24))); // NF_REPEAT
        Assert.Equal(8, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(32)));
        Assert.Equal(3, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(34))); // NFQA_MARK
        Assert.Equal(0x53480001u, BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(36)));
    }

    [Fact]
    public void WriteVerdict_Twice_TwoMessagesOneAfterTheOtherForOneSend()
    {
        var writer = new NetlinkWriter(64);
        NfQueueSocket.WriteVerdict(writer, 1000, 7, NfQueue.Accept);
        NfQueueSocket.WriteVerdict(writer, 1000, 8, NfQueue.Drop);

        var ids = new List<(uint Verdict, uint Id)>();
        foreach (var message in new NetlinkMessageEnumerator(writer.Written))
        {
            Assert.Equal(NfQueue.MsgVerdict, message.Type);
            var header = message.Bytes[24..];
            ids.Add((BinaryPrimitives.ReadUInt32BigEndian(header), BinaryPrimitives.ReadUInt32BigEndian(header[4..])));
        }

        Assert.Equal(64, writer.Length);
        Assert.Equal([(NfQueue.Accept, 7u), (NfQueue.Drop, 8u)], ids);
    }

    [Fact]
    public void TryParsePacket_OtherMessage_False()
    {
        var writer = new NetlinkWriter(64);
        writer.Message(NfQueue.MsgConfig, 0);
        Assert.False(NfQueueSocket.TryParsePacket(new NetlinkMessage(writer.Written), out _, out _));
    }

    [Fact]
    public void TryParsePacket_AsTheKernelSendsIt_ReadsItsIdAndPayload()
    {
        // NFQNL_MSG_PACKET with NFQA_PACKET_HDR (id 7, hw_protocol 0x0800, hook 1) and NFQA_PAYLOAD (4 bytes).
        var writer = new NetlinkWriter(64);
        var start = writer.BeginMessage((3 << 8) | 0, 0, 2, 1000);
        var header = writer.Attribute(1, 7);
        BinaryPrimitives.WriteUInt32BigEndian(header, 7);
        BinaryPrimitives.WriteUInt16BigEndian(header[4..], 0x0800);
        header[6] = 1;
        writer.Bytes(10, [0x45, 0, 0, 28]);
        writer.EndMessage(start);

        Assert.True(NfQueueSocket.TryParsePacket(new NetlinkMessage(writer.Written), out var id, out var copied));
        var payload = copied.ToArray();
        Assert.Equal(7u, id);
        Assert.Equal([0x45, 0, 0, 28], payload);
    }
}
