using System.Buffers.Binary;
using Shaper.Firewall;
using Shaper.Netlink;

namespace Shaper.Tests.Netlink;

/// <summary>The netlink message codec on its own: bytes as the kernel's headers lay them out, and back. No root.</summary>
public sealed class NetlinkCodecTests
{
    [Fact]
    public void BeginMessage_WithAStringAttribute_WritesTheKernelsLayout()
    {
        var writer = new NetlinkWriter(16);
        var start = writer.BeginMessage(0x0a0c, Nl.Request | Nl.Ack | Nl.Create, NfTables.FamilyInet, 0);
        writer.String(NfTables.SetElemListTable, "shaper");
        writer.EndMessage(start);

        byte[] expected =
        [
            32, 0, 0, 0, // nlmsg_len: 16 + 4 + an 11-byte attribute padded to 12
            0x0c, 0x0a, // nlmsg_type: NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWSETELEM
            0x05, 0x04, // flags: NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE
            1, 0, 0, 0, // sequence: the first
            0, 0, 0, 0, // port id: the kernel's
            1, 0, 0, 0, // nfgenmsg: NFPROTO_INET, version 0, resource id 0
            11, 0, 1, 0, (byte)'s', (byte)'h', (byte)'a', (byte)'p', (byte)'e', (byte)'r', 0, 0, // "shaper\0" + 1 byte of padding
        ];
        Assert.Equal(expected, writer.Written.ToArray());
    }

    [Fact]
    public void Batch_MessagesBetweenBeginAndEnd_ReadBackInOrderWithTheirAttributes()
    {
        var writer = new NetlinkWriter();
        writer.BeginBatch(NfTables.Subsystem);
        var message = writer.BeginMessage(NfTables.Type(NfTables.NewSetElem), Nl.Request | Nl.Ack, NfTables.FamilyInet);
        writer.String(NfTables.SetElemListSet, "block_v4");
        var list = writer.BeginNest(NfTables.SetElemListElements);
        var element = writer.BeginNest(NfTables.ListElem);
        var key = writer.BeginNest(NfTables.SetElemKey);
        writer.Bytes(NfTables.DataValue, [198, 18, 7, 5]);
        writer.EndNest(key);
        writer.UInt64BigEndian(NfTables.SetElemTimeout, 600_000);
        writer.EndNest(element);
        writer.EndNest(list);
        writer.EndMessage(message);
        writer.EndBatch(NfTables.Subsystem);

        var seen = new List<(ushort Type, uint Seq, ushort ResourceId)>();
        ulong timeout = 0;
        string? set = null;
        var keys = new HashSet<string>();
        var messages = new NetlinkMessageEnumerator(writer.Written);
        while (messages.MoveNext())
        {
            var m = messages.Current;
            seen.Add((m.Type, m.Sequence, m.ResourceId));
            if (m.Command == NfTables.NewSetElem)
            {
                var attributes = m.Attributes;
                Assert.True(attributes.TryFind(NfTables.SetElemListSet, out var name));
                set = name.AsString();
                Assert.True(m.Attributes.TryFind(NfTables.SetElemListElements, out var elements));
                Assert.True(elements.IsNested);
                Assert.True(elements.Nested.TryFind(NfTables.ListElem, out var first));
                Assert.True(first.Nested.TryFind(NfTables.SetElemTimeout, out var t));
                timeout = t.UInt64BigEndian;
                NftChange.ReadKeys(m.Attributes, keys);
            }
        }

        Assert.False(messages.Malformed);
        Assert.Equal([(Nl.BatchBegin, 1u, NfTables.Subsystem), (NfTables.Type(NfTables.NewSetElem), 2u, 0), (Nl.BatchEnd, 3u, NfTables.Subsystem)], seen);
        Assert.Equal("block_v4", set);
        Assert.Equal(600_000ul, timeout);
        Assert.Equal(["C6120705"], keys);
        Assert.Equal(0, writer.Length % 4);
    }

    [Theory]
    [InlineData(0)] // an acknowledgement
    [InlineData(17)] // EEXIST
    [InlineData(2)] // ENOENT
    public void TryGetError_AnErrorMessage_GivesTheErrnoAndTheRequestItAnswers(int errno)
    {
        var bytes = new byte[36];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, 36);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(4), Nl.Error);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), 41);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(16), -errno);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(20), 20); // the request's header, echoed
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(28), 41);

        var messages = new NetlinkMessageEnumerator(bytes);
        Assert.True(messages.MoveNext());
        Assert.True(messages.Current.TryGetError(out var got, out var request));
        Assert.Equal((errno, 41u), (got, request));
        Assert.False(messages.MoveNext());
    }

    [Fact]
    public void TryGetError_NotAnErrorMessage_IsFalse()
    {
        var writer = new NetlinkWriter();
        writer.Message(NfTables.Type(NfTables.NewGen), 0);
        var messages = new NetlinkMessageEnumerator(writer.Written);
        Assert.True(messages.MoveNext());
        Assert.False(messages.Current.TryGetError(out _, out _));
    }

    [Theory]
    [InlineData(10)] // shorter than a header
    [InlineData(28)] // a header whose length says more than is there
    public void Enumerator_TruncatedDatagram_StopsAndSaysMalformed(int cut)
    {
        var writer = new NetlinkWriter();
        var start = writer.BeginMessage(NfTables.Type(NfTables.NewTable), Nl.Request);
        writer.String(NfTables.TableName, "shaper");
        writer.EndMessage(start);

        var messages = new NetlinkMessageEnumerator(writer.Written[..cut]);
        Assert.False(messages.MoveNext());
        Assert.True(messages.Malformed);
    }

    [Fact]
    public void AttributeEnumerator_LengthPastTheEnd_StopsBeforeIt()
    {
        byte[] attributes = [8, 0, 1, 0, 1, 2, 3, 4, /* next claims 12 bytes, only 6 there */ 12, 0, 2, 0, 9, 9];
        var found = new List<ushort>();
        foreach (var attribute in new NetlinkAttributeEnumerator(attributes))
        {
            found.Add(attribute.Type);
        }

        Assert.Equal([(ushort)1], found);
    }

    [Fact]
    public void EndNest_LongerThanSixteenBits_Throws()
    {
        var writer = new NetlinkWriter();
        var nest = writer.BeginNest(1);
        writer.Attribute(2, 40_000);
        writer.Attribute(2, 40_000);
        Assert.Throws<InvalidOperationException>(() => writer.EndNest(nest));
    }
}
