using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Shaper.Netlink;

/// <summary>
/// Room for several datagrams that one <c>recvmmsg</c> fills (<see cref="NetlinkSocket.Receive(NetlinkDatagrams, bool)"/>),
/// so that a reader takes a run of queued messages in one system call instead of one call each. The slots and the
/// <c>struct mmsghdr</c> array pointing at them are pinned arrays allocated once; reading allocates nothing. The
/// layouts are the LP64 ones of <c>include/linux/socket.h</c> and <c>include/uapi/linux/uio.h</c> (x86-64 and arm64
/// alike). Not thread-safe: one reader owns it.
/// </summary>
internal sealed unsafe class NetlinkDatagrams
{
    /// <summary>sizeof(struct mmsghdr): a struct msghdr (56) and msg_len, padded to 8.</summary>
    private const int HeaderSize = 64;

    /// <summary>sizeof(struct iovec).</summary>
    private const int IovecSize = 16;

    private const int MsgFlagsOffset = 48;
    private const int MsgLenOffset = 56;

    private readonly byte[] _data;
    private readonly byte[] _headers;

    /// <summary><paramref name="capacity"/> slots of <paramref name="size"/> bytes; a longer datagram is cut to its slot (<see cref="Truncated"/>).</summary>
    public NetlinkDatagrams(int capacity, int size)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, Nl.HeaderLength);
        Capacity = capacity;
        Size = size;
        _data = GC.AllocateArray<byte>(capacity * size, pinned: true);
        _headers = GC.AllocateArray<byte>(capacity * (HeaderSize + IovecSize), pinned: true);
        var headers = (long)Headers;
        var iovecs = headers + (capacity * HeaderSize);
        var data = (long)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_data));
        for (var i = 0; i < capacity; i++)
        {
            // msg_name, msg_namelen, msg_control and msg_controllen stay 0; msg_iov points at the slot's one iovec.
            BinaryPrimitives.WriteInt64LittleEndian(_headers.AsSpan((i * HeaderSize) + 16), iovecs + (i * IovecSize));
            BinaryPrimitives.WriteInt64LittleEndian(_headers.AsSpan((i * HeaderSize) + 24), 1);
            BinaryPrimitives.WriteInt64LittleEndian(_headers.AsSpan((capacity * HeaderSize) + (i * IovecSize)), data + ((long)i * size));
            BinaryPrimitives.WriteInt64LittleEndian(_headers.AsSpan((capacity * HeaderSize) + (i * IovecSize) + 8), size);
        }
    }

    /// <summary>How many datagrams one receive takes at most.</summary>
    public int Capacity { get; }

    /// <summary>The bytes of each slot.</summary>
    public int Size { get; }

    /// <summary>The <c>struct mmsghdr</c> array, for <c>recvmmsg</c>.</summary>
    internal void* Headers => Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_headers));

    /// <summary>Datagram <paramref name="index"/> of the last receive (index below the count it returned).</summary>
    public ReadOnlySpan<byte> this[int index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            var length = BinaryPrimitives.ReadUInt32LittleEndian(_headers.AsSpan((index * HeaderSize) + MsgLenOffset));
            return _data.AsSpan(index * Size, (int)Math.Min(length, (uint)Size));
        }
    }

    /// <summary>Whether datagram <paramref name="index"/> of the last receive was longer than its slot (MSG_TRUNC) and cut.</summary>
    public bool Truncated(int index) => (BinaryPrimitives.ReadInt32LittleEndian(_headers.AsSpan((index * HeaderSize) + MsgFlagsOffset)) & 0x20) != 0;
}
