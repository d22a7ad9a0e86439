using System.Buffers.Binary;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;

namespace Shaper.Firewall;

/// <summary>
/// Adds host blocks to the <c>block_v4</c>/<c>block_v6</c> sets straight over <c>NETLINK_NETFILTER</c>: one
/// nfnetlink batch per <see cref="ElementsPerTransaction"/> elements (BEGIN, NEWSETELEM messages of up to
/// <see cref="ElementsPerMessage"/> elements, END), which the kernel commits as one transaction: exactly what <c>nft add element</c> sends once it has parsed its text. The
/// text parse is what a block costs in libnftables (about 6 µs an element here, most of a batch of a thousand),
/// so the hot block path skips it; everything else (rulesets, intervals, listings) stays with libnftables.
/// The socket belongs to the network namespace it was opened in.
/// </summary>
public sealed partial class NftNetlink : IDisposable
{
    /// <summary>Elements per NEWSETELEM message: its element list is one attribute, whose length is 16 bits.</summary>
    public const int ElementsPerMessage = 1024;

    /// <summary>
    /// Elements per batch: a batch is one send, which the socket's default send buffer (wmem_default, 208 KiB)
    /// bounds; 4,096 IPv6 elements take about 170 KB.
    /// </summary>
    public const int ElementsPerTransaction = 4096;

    private const int AfNetlink = 16;
    private const int SockRaw = 3;
    private const int SockCloexec = 0x80000;
    private const int NetlinkNetfilter = 12;
    private const ushort NlmFRequest = 0x1;
    private const ushort NlmFAck = 0x4;
    private const ushort NlmFCreate = 0x400;
    private const ushort NlmsgError = 2;
    private const ushort BatchBegin = 0x10;
    private const ushort BatchEnd = 0x11;
    private const ushort NewSetElem = (10 << 8) | 12; // NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWSETELEM
    private const ushort GetChain = (10 << 8) | 4; // NFT_MSG_GETCHAIN
    private const ushort NewObj = (10 << 8) | 18; // NFT_MSG_NEWOBJ: what a GETOBJ dump answers with
    private const ushort GetObj = (10 << 8) | 19; // NFT_MSG_GETOBJ
    private const ushort NlmFDump = 0x300; // NLM_F_ROOT | NLM_F_MATCH
    private const ushort NlmsgDone = 3;
    private const byte NfprotoInet = 1;
    private const ushort Nested = 0x8000;

    private readonly Lock _lock = new(); // one socket, one batch at a time
    private readonly int _fd;
    private readonly string _table;
    private readonly byte[] _answer = new byte[1 << 16]; // the kernel's answers, read under the lock
    private byte[] _buffer = new byte[1 << 16];
    private uint _seq;

    /// <summary>One message of an answer: its type, sequence number and bytes; a result (0 or an errno) ends the reading.</summary>
    private delegate int? AnswerHandler(ushort type, uint seq, ReadOnlySpan<byte> message);

    private NftNetlink(int fd, string table)
    {
        _fd = fd;
        _table = table;
    }

    /// <summary>Opens a socket in the caller's network namespace for <paramref name="table"/> (an inet table); null when netlink is unavailable.</summary>
    public static NftNetlink? TryOpen(string table)
    {
        var fd = Socket(AfNetlink, SockRaw | SockCloexec, NetlinkNetfilter);
        if (fd < 0)
        {
            return null;
        }

        // A batch that goes wrong must not leave the daemon waiting: answers come at once or not at all.
        Span<long> timeout = [2, 0]; // struct timeval: 2 s
        _ = SetSockOpt(fd, 1 /* SOL_SOCKET */, 20 /* SO_RCVTIMEO */, MemoryMarshal.AsBytes(timeout), 16);
        return new NftNetlink(fd, table);
    }

    /// <summary>True when <paramref name="network"/> is a host this path can add (prefixes go to interval sets, through libnftables).</summary>
    public static bool CanAdd(IPNetwork network) => NftScript.SetOf(network) is "block_v4" or "block_v6";

    /// <summary>
    /// Adds host blocks with their time to live, in one transaction per <see cref="ElementsPerTransaction"/>;
    /// null on success, else why. Adding a block that is already there is no error, so a caller may retry all.
    /// </summary>
    public string? AddHosts(IReadOnlyList<(IPNetwork Network, TimeSpan Ttl)> hosts)
    {
        ArgumentNullException.ThrowIfNull(hosts);
        for (var offset = 0; offset < hosts.Count; offset += ElementsPerTransaction)
        {
            if (AddTransaction(hosts, offset, Math.Min(hosts.Count, offset + ElementsPerTransaction), "block_v4", "block_v6") is { } error)
            {
                return error;
            }
        }

        return null;
    }

    private string? AddTransaction(IReadOnlyList<(IPNetwork Network, TimeSpan Ttl)> hosts, int offset, int end, string setV4, string setV6)
    {
        lock (_lock)
        {
            var length = 0;
            var first = _seq + 1;
            Message(ref length, BatchBegin, NlmFRequest, 0, 10); // res_id: the nftables subsystem
            var acked = 0;
            foreach (var v4 in (ReadOnlySpan<bool>)[true, false])
            {
                var inMessage = 0;
                var start = -1;
                var elements = -1;
                for (var i = offset; i < end; i++)
                {
                    var (network, ttl) = hosts[i];
                    if (NftScript.IsV4(network) != v4 || ttl < TimeSpan.FromSeconds(1))
                    {
                        continue;
                    }

                    if (inMessage == 0)
                    {
                        start = length;
                        Message(ref length, NewSetElem, NlmFRequest | NlmFCreate | NlmFAck, NfprotoInet, 0);
                        StringAttribute(ref length, 1, _table); // NFTA_SET_ELEM_LIST_TABLE
                        StringAttribute(ref length, 2, v4 ? setV4 : setV6); // NFTA_SET_ELEM_LIST_SET
                        elements = Open(ref length, 3); // NFTA_SET_ELEM_LIST_ELEMENTS
                        acked++;
                    }

                    var element = Open(ref length, 1); // NFTA_LIST_ELEM
                    var key = Open(ref length, 1); // NFTA_SET_ELEM_KEY
                    var address = network.BaseAddress.IsIPv4MappedToIPv6 ? network.BaseAddress.MapToIPv4() : network.BaseAddress;
                    var value = Attribute(ref length, 1, v4 ? 4 : 16); // NFTA_DATA_VALUE, network order
                    address.TryWriteBytes(value, out _);
                    CloseNest(key, length);
                    BinaryPrimitives.WriteUInt64BigEndian(Attribute(ref length, 4, 8), (ulong)ttl.TotalMilliseconds); // NFTA_SET_ELEM_TIMEOUT
                    CloseNest(element, length);
                    if (++inMessage == ElementsPerMessage)
                    {
                        CloseNest(elements, length);
                        EndMessage(start, length);
                        inMessage = 0;
                    }
                }

                if (inMessage > 0)
                {
                    CloseNest(elements, length);
                    EndMessage(start, length);
                }
            }

            if (acked == 0)
            {
                return null;
            }

            Message(ref length, BatchEnd, NlmFRequest, 0, 10);
            if (Send(length) is { } error)
            {
                return error;
            }

            return Acknowledgements(first + 1, acked, out var failure) switch
            {
                0 => null,
                > 0 and var errno => $"the kernel refused the blocks: {Marshal.GetPInvokeErrorMessage(errno)}",
                _ => failure,
            };
        }
    }

    /// <summary>
    /// Readies the path before the first real block, which would otherwise wait for the JIT while offenders are
    /// crossing: sends a real element batch, one IPv4 and one IPv6 host, to sets that do not exist, so the
    /// kernel refuses it (ENOENT) and aborts the whole transaction; nothing changes in the kernel. The answer
    /// is the proof the round trip worked: true when the kernel said "no such set", as it must.
    /// </summary>
    public bool WarmUp()
    {
        (IPNetwork, TimeSpan)[] probe =
        [
            (new IPNetwork(new IPAddress([192, 0, 2, 1]), 32), TimeSpan.FromMinutes(1)),
            (new IPNetwork(IPAddress.Parse("2001:db8::1"), 128), TimeSpan.FromMinutes(1)),
        ];
        var answer = AddTransaction(probe, 0, probe.Length, "shaper_warmup_absent_v4", "shaper_warmup_absent_v6");
        return answer is not null && answer.EndsWith(Marshal.GetPInvokeErrorMessage(2), StringComparison.Ordinal);
    }

    /// <summary>
    /// True when <paramref name="chain"/> is in the table, false when the kernel says it (or the table) is not, null
    /// when netlink did not answer. One GETCHAIN for one named chain: unlike <c>nft list chain</c>, which fetches
    /// every set with all its elements first (half a second with 100,000 blocks), this costs the same at any size.
    /// </summary>
    public bool? HasChain(string chain)
    {
        lock (_lock)
        {
            var length = 0;
            Message(ref length, GetChain, NlmFRequest | NlmFAck, NfprotoInet, 0);
            StringAttribute(ref length, 1, _table); // NFTA_CHAIN_TABLE
            StringAttribute(ref length, 3, chain); // NFTA_CHAIN_NAME
            EndMessage(0, length);
            if (Send(length) is not null)
            {
                return null;
            }

            return Acknowledgements(_seq, 1, out _) switch
            {
                0 => true,
                2 => false, // ENOENT
                _ => null,
            };
        }
    }

    /// <summary>
    /// The packets of every named counter in the table, by name, from one GETOBJ dump; null when netlink did not
    /// answer. Like <see cref="HasChain"/> it costs the same at any number of blocks: <c>nft list counters</c>
    /// reads every set whole first (0.66 s here with 100,000 blocks), on every metrics scrape.
    /// </summary>
    public Dictionary<string, long>? CounterPackets()
    {
        lock (_lock)
        {
            var length = 0;
            Message(ref length, GetObj, NlmFRequest | NlmFDump, NfprotoInet, 0);
            StringAttribute(ref length, 1, _table); // NFTA_OBJ_TABLE: the dump's filter
            BinaryPrimitives.WriteUInt32BigEndian(Attribute(ref length, 3, 4), 1); // NFTA_OBJ_TYPE: NFT_OBJECT_COUNTER
            EndMessage(0, length);
            if (Send(length) is not null)
            {
                return null;
            }

            var seq = _seq;
            var counters = new Dictionary<string, long>(StringComparer.Ordinal);
            var answered = Receive(
                (type, from, message) =>
                {
                    if (from != seq)
                    {
                        return null;
                    }

                    switch (type)
                    {
                        case NlmsgDone:
                            return 0;
                        case NlmsgError:
                            return -BinaryPrimitives.ReadInt32LittleEndian(message[16..]);
                        case NewObj when message.Length > 20:
                            ReadCounter(message[20..], counters);
                            break;
                    }

                    return null;
                },
                out _);
            return answered == 0 ? counters : null;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _ = Close(_fd);

    /// <summary>One NEWOBJ message's attributes: its name (NFTA_OBJ_NAME) and, in its data, the packet count.</summary>
    private static void ReadCounter(ReadOnlySpan<byte> attributes, Dictionary<string, long> counters)
    {
        string? name = null;
        long packets = -1;
        foreach (var (type, value) in Attributes(attributes))
        {
            if (type == 2) // NFTA_OBJ_NAME, NUL-terminated
            {
                name = Encoding.ASCII.GetString(value.TrimEnd((byte)0));
            }
            else if (type == 4) // NFTA_OBJ_DATA: NFTA_COUNTER_BYTES (1), NFTA_COUNTER_PACKETS (2)
            {
                foreach (var (inner, count) in Attributes(value))
                {
                    if (inner == 2 && count.Length == 8)
                    {
                        packets = (long)BinaryPrimitives.ReadUInt64BigEndian(count);
                    }
                }
            }
        }

        if (name is not null && packets >= 0)
        {
            counters[name] = packets;
        }
    }

    /// <summary>The attributes in <paramref name="span"/>: type (without the nested flag) and value.</summary>
    private static List<(int Type, byte[] Value)> Attributes(ReadOnlySpan<byte> span)
    {
        var list = new List<(int, byte[])>();
        for (var at = 0; at + 4 <= span.Length;)
        {
            var length = BinaryPrimitives.ReadUInt16LittleEndian(span[at..]);
            if (length < 4 || at + length > span.Length)
            {
                break;
            }

            list.Add((BinaryPrimitives.ReadUInt16LittleEndian(span[(at + 2)..]) & 0x7fff, span[(at + 4)..(at + length)].ToArray()));
            at += (length + 3) & ~3;
        }

        return list;
    }

    private void Message(ref int length, ushort type, ushort flags, byte family, ushort resId)
    {
        var header = Reserve(ref length, 20);
        BinaryPrimitives.WriteUInt32LittleEndian(header, 20);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], type);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], ++_seq);
        header[16] = family;
        BinaryPrimitives.WriteUInt16BigEndian(header[18..], resId);
    }

    private void EndMessage(int start, int length) => BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(start), (uint)(length - start));

    private void StringAttribute(ref int length, ushort type, string value)
    {
        var bytes = Attribute(ref length, type, Encoding.ASCII.GetByteCount(value) + 1);
        Encoding.ASCII.GetBytes(value, bytes);
    }

    private Span<byte> Attribute(ref int length, ushort type, int size)
    {
        var at = length;
        Reserve(ref length, (4 + size + 3) & ~3).Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(at), (ushort)(4 + size));
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(at + 2), type);
        return _buffer.AsSpan(at + 4, size);
    }

    private int Open(ref int length, ushort type)
    {
        var at = length;
        var header = Reserve(ref length, 4);
        BinaryPrimitives.WriteUInt16LittleEndian(header[2..], (ushort)(type | Nested));
        return at;
    }

    private void CloseNest(int at, int length) => BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(at), (ushort)(length - at));

    private Span<byte> Reserve(ref int length, int size)
    {
        if (length + size > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, length + size));
        }

        var span = _buffer.AsSpan(length, size);
        length += size;
        return span;
    }

    private unsafe string? Send(int length)
    {
        Span<byte> kernel = stackalloc byte[12]; // struct sockaddr_nl, pid 0: the kernel
        kernel.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(kernel, AfNetlink);
        fixed (byte* data = _buffer)
        fixed (byte* to = kernel)
        {
            var sent = SendTo(_fd, data, length, 0, to, 12);
            return sent == length ? null : $"netlink send failed: errno {Marshal.GetLastPInvokeError()}";
        }
    }

    /// <summary>
    /// Reads the kernel's answers to the requests numbered from <paramref name="first"/>: one acknowledgement each,
    /// or the error that refused one. 0 when all are acknowledged, the errno when the kernel refused, -1 when no
    /// usable answer came (<paramref name="failure"/> says why).
    /// </summary>
    private int Acknowledgements(uint first, int expected, out string? failure)
    {
        var acked = 0;
        return Receive(
            (type, seq, message) =>
            {
                if (type != NlmsgError || seq < first)
                {
                    return null; // an answer to an earlier request, or a dump's object
                }

                var error = BinaryPrimitives.ReadInt32LittleEndian(message[16..]);
                return error != 0 ? -error : ++acked == expected ? 0 : null;
            },
            out failure);
    }

    /// <summary>
    /// Reads the kernel's messages and hands each to <paramref name="handle"/> (its type, sequence number and
    /// bytes) until it returns a result, which this returns; -1 when no usable answer came (<paramref name="failure"/> says why).
    /// </summary>
    private unsafe int Receive(AnswerHandler handle, out string? failure)
    {
        failure = null;
        while (true)
        {
            long received;
            fixed (byte* data = _answer)
            {
                received = Recv(_fd, data, _answer.Length, 0);
            }

            if (received <= 0)
            {
                failure = $"netlink: no answer from the kernel (errno {Marshal.GetLastPInvokeError()})";
                return -1;
            }

            for (var at = 0; at + 16 <= received;)
            {
                var size = (int)BinaryPrimitives.ReadUInt32LittleEndian(_answer.AsSpan(at));
                if (size < 16 || at + size > received)
                {
                    failure = "netlink: malformed answer";
                    return -1;
                }

                var type = BinaryPrimitives.ReadUInt16LittleEndian(_answer.AsSpan(at + 4));
                var seq = BinaryPrimitives.ReadUInt32LittleEndian(_answer.AsSpan(at + 8));
                if (handle(type, seq, _answer.AsSpan(at, size)) is { } result)
                {
                    return result;
                }

                at += (size + 3) & ~3;
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static partial int SetSockOpt(int fd, int level, int name, ReadOnlySpan<byte> value, int length);

    [LibraryImport("libc", EntryPoint = "sendto", SetLastError = true)]
    private static unsafe partial long SendTo(int fd, byte* buffer, long length, int flags, byte* address, int addressLength);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static unsafe partial long Recv(int fd, byte* buffer, long length, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
