using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Shaper.Netlink;

namespace Shaper.Queue;

/// <summary>
/// One NFQUEUE queue bound on a raw nfnetlink socket, without libnetfilter_queue: binds the queue (copy mode
/// packet with a small copy range, a queue length, fail-open), reads queued packets and sends one verdict per
/// packet. Verdicts go out on this socket, the one that bound the queue, as the kernel requires (another port id
/// gets EPERM). The kernel drops every packet still held when this socket closes; the queue rule's bypass flag
/// lets later packets through. Not thread-safe: one worker thread owns it.
/// </summary>
internal sealed class NfQueueSocket : IDisposable
{
    private const int Enobufs = 105;

    /// <summary>How long a configuration waits for each message of the kernel's answer.</summary>
    private const long AckTimeoutNs = 2_000_000_000;
    private const int Enodev = 19;
    private const int Eperm = 1;
    private readonly NetlinkSocket _socket;
    /// <summary>Verdicts sent at most in one datagram: 128 of 32 bytes, far under the socket's send buffer.</summary>
    private const int VerdictBatchBytes = 4096;

    private readonly NetlinkWriter _writer = new(256);
    private readonly NetlinkWriter _verdicts = new(VerdictBatchBytes + 64);
    private int _pendingVerdicts;
    private readonly byte[] _ack = new byte[8192];
    private readonly int _maxLength;

    private NfQueueSocket(NetlinkSocket socket, ushort number, int maxLength)
    {
        _socket = socket;
        Number = number;
        _maxLength = maxLength;
    }

    /// <summary>The queue number.</summary>
    public ushort Number { get; }

    /// <summary>Receives that failed with ENOBUFS: the socket's buffer was full and the kernel lost (or, fail-open, accepted) packets.</summary>
    public long NoBuffers { get; private set; }

    /// <summary>Verdicts the kernel refused (an id it no longer holds, as after an interface went down).</summary>
    public long VerdictErrors { get; private set; }

    /// <summary>
    /// Why the queue is no longer this socket's, once the kernel said so (ENODEV: no such queue any more, it was unbound;
    /// EPERM: another socket has it); null while it is. Nothing more comes to the socket then.
    /// </summary>
    public string? Lost { get; private set; }

    /// <summary>
    /// Opens a socket in this thread's network namespace and binds queue <paramref name="number"/>: packets copied up to
    /// <paramref name="copyRange"/> bytes, at most <paramref name="maxLength"/> waiting in the kernel (beyond, accepted:
    /// fail-open). A waiting <see cref="Receive"/> gives up after <paramref name="receiveTimeout"/>. Null with
    /// <paramref name="error"/> when the kernel refuses (EBUSY: another process has the queue).
    /// </summary>
    public static NfQueueSocket? Open(ushort number, int copyRange, int maxLength, int receiveBuffer, TimeSpan receiveTimeout, out string? error)
    {
        if (NetlinkSocket.TryOpen() is not { } socket)
        {
            error = "cannot open a netfilter netlink socket";
            return null;
        }

        socket.SetBuffers(1 << 16, receiveBuffer);
        socket.SetReceiveTimeout(receiveTimeout);
        var queue = new NfQueueSocket(socket, number, maxLength);
        error = queue.Configure(NfQueue.CmdBind, copyRange, maxLength);
        if (error is not null)
        {
            queue.Dispose();
            return null;
        }

        return queue;
    }

    /// <summary>
    /// Sets the kernel's queue length to 0 with fail-open, so every packet from now on is accepted by the kernel at once
    /// and none more is queued: what a graceful stop does before it gives the held packets their verdicts, so that
    /// none is left for the close to drop. Null on success, else why.
    /// </summary>
    public string? StopQueueing() => Configure(0, null, 0);

    /// <summary>Waits up to <paramref name="timeoutNs"/> for a packet; true when one can be read.</summary>
    public bool Wait(long timeoutNs) => _socket.Wait(timeoutNs);

    /// <summary>
    /// Reads the datagrams there are into <paramref name="datagrams"/> in one call; with <paramref name="wait"/>, waits for
    /// the first up to the receive timeout <see cref="Open"/> set. Returns how many, 0 when none came, or -1 after
    /// ENOBUFS (counted; the socket goes on working).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Receive(NetlinkDatagrams datagrams, bool wait)
    {
        var received = _socket.Receive(datagrams, wait);
        if (received == -Enobufs)
        {
            // The kernel could not add a packet's message to the full buffer: with fail-open it accepted the packet
            // unshaped, else it dropped it (the queue's user_dropped). The socket itself goes on working.
            NoBuffers++;
            return -1;
        }

        if (received < 0)
        {
            throw new IOException($"reading NFQUEUE {Number} failed: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(-received)}");
        }

        return received;
    }

    /// <summary>
    /// Asks the kernel, without waiting, whether the queue is still bound to this socket: an empty CONFIG without an
    /// acknowledgement request, which the kernel answers only when it fails (ENODEV when the queue is gone, EPERM when
    /// another socket has it), and that answer sets <see cref="Lost"/> when it is read.
    /// </summary>
    public void CheckBound()
    {
        _writer.Clear();
        _writer.Message(NfQueue.MsgConfig, Nl.Request, 0, Number);
        if (_socket.Send(_writer.Written) is { } error)
        {
            throw new IOException($"NFQUEUE {Number}: {error}");
        }
    }

    /// <summary>
    /// Reads a queued packet from <paramref name="message"/>: its id and the copied bytes from the IP header on; false for
    /// anything else (an error answering a verdict is counted).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryReadPacket(NetlinkMessage message, out uint id, out ReadOnlySpan<byte> payload)
    {
        id = 0;
        payload = default;
        if (message.TryGetError(out var errno, out _))
        {
            if (errno != 0)
            {
                VerdictErrors++;
            }

            if (errno is Enodev or Eperm)
            {
                Lost ??= errno == Enodev
                    ? $"the kernel no longer has NFQUEUE {Number} (it was unbound from the daemon's socket)"
                    : $"NFQUEUE {Number} belongs to another socket now (EPERM)";
            }

            return false;
        }

        return TryParsePacket(message, out id, out payload);
    }

    /// <summary>The id and copied bytes of an NFQNL_MSG_PACKET message; false for any other message or one without a packet header.</summary>
    internal static bool TryParsePacket(NetlinkMessage message, out uint id, out ReadOnlySpan<byte> payload)
    {
        id = 0;
        payload = default;
        if (message.Type != NfQueue.MsgPacket)
        {
            return false;
        }

        var found = false;
        foreach (var attribute in message.Attributes)
        {
            if (attribute.Type == NfQueue.AttrPacketHeader && attribute.Value.Length >= 4)
            {
                id = BinaryPrimitives.ReadUInt32BigEndian(attribute.Value);
                found = true;
            }
            else if (attribute.Type == NfQueue.AttrPayload)
            {
                payload = attribute.Value;
            }
        }

        return found;
    }

    /// <summary>
    /// Adds the verdict <paramref name="verdict"/> (<see cref="NfQueue.Accept"/>, <see cref="NfQueue.Drop"/>, or
    /// <see cref="NfQueue.Repeat"/> with a <paramref name="mark"/>) for packet <paramref name="id"/> to the verdicts
    /// <see cref="Flush"/> sends; a full batch is sent at once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Verdict(uint id, uint verdict, uint? mark = null)
    {
        WriteVerdict(_verdicts, Number, id, verdict, mark);
        _pendingVerdicts++;
        if (_verdicts.Length >= VerdictBatchBytes)
        {
            Flush();
        }
    }

    /// <summary>
    /// Sends the verdicts added since the last flush in one datagram: single NFQNL_MSG_VERDICT messages (not
    /// NFQNL_MSG_VERDICT_BATCH, which releases every packet up to an id in queue order), which nfnetlink handles one
    /// after the other in the send itself (netlink_rcv_skb), each failure answered on its own, the rest still applied.
    /// A send the kernel refuses loses them all (counted): the kernel drops those packets when the socket closes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Flush()
    {
        if (_pendingVerdicts == 0)
        {
            return;
        }

        if (_socket.Send(_verdicts.Written) is not null)
        {
            VerdictErrors += _pendingVerdicts;
        }

        _verdicts.Clear();
        _pendingVerdicts = 0;
    }

    /// <summary>Appends one NFQNL_MSG_VERDICT for packet <paramref name="id"/> of queue <paramref name="number"/> to what <paramref name="writer"/> holds.</summary>
    internal static void WriteVerdict(NetlinkWriter writer, ushort number, uint id, uint verdict, uint? mark = null)
    {
        var start = writer.BeginMessage(NfQueue.MsgVerdict, Nl.Request, 0, number);
        var header = writer.Attribute(NfQueue.AttrVerdictHeader, 8);
        BinaryPrimitives.WriteUInt32BigEndian(header, verdict);
        BinaryPrimitives.WriteUInt32BigEndian(header[4..], id);
        if (mark is { } value)
        {
            BinaryPrimitives.WriteUInt32BigEndian(writer.Attribute(NfQueue.AttrMark, 4), value);
        }

        writer.EndMessage(start);
    }

    public void Dispose() => _socket.Dispose();

    /// <summary>One acknowledged CONFIG message: a command (0 for none), copy parameters (null to keep), the queue length and fail-open.</summary>
    private string? Configure(byte command, int? copyRange, int maxLength)
    {
        _writer.Clear();
        var start = _writer.BeginMessage(NfQueue.MsgConfig, Nl.Request | Nl.Ack, 0, Number);
        if (command != 0)
        {
            var cmd = _writer.Attribute(NfQueue.CfgCmd, 4);
            cmd[0] = command; // pad and pf (unused since Linux 3.8) stay 0
        }

        if (copyRange is { } range)
        {
            var parameters = _writer.Attribute(NfQueue.CfgParams, 5);
            BinaryPrimitives.WriteUInt32BigEndian(parameters, (uint)range);
            parameters[4] = NfQueue.CopyPacket;
        }

        _writer.UInt32BigEndian(NfQueue.CfgQueueMaxLen, (uint)maxLength);
        _writer.UInt32BigEndian(NfQueue.CfgFlags, NfQueue.FlagFailOpen);
        _writer.UInt32BigEndian(NfQueue.CfgMask, NfQueue.FlagFailOpen);
        _writer.EndMessage(start);
        var sequence = _writer.Sequence;
        if (_socket.Send(_writer.Written) is { } sendError)
        {
            return sendError;
        }

        // Queued packets may arrive before the acknowledgement (as many as the kernel queues at most); a configuration
        // only happens before any is read (bind) or when every later one is accepted by the kernel anyway (stop), and
        // those read here are the caller's to verdict through Pending.
        for (var attempt = 0; attempt < _maxLength + 64; attempt++)
        {
            if (!_socket.Wait(AckTimeoutNs))
            {
                return "no answer from the kernel";
            }

            var received = _socket.Receive(_ack, wait: false);
            if (received == 0)
            {
                continue;
            }

            if (received < 0)
            {
                return $"netlink receive failed (errno {-received})";
            }

            foreach (var message in new NetlinkMessageEnumerator(_ack.AsSpan(0, received)))
            {
                if (message.TryGetError(out var errno, out var answered) && answered == sequence)
                {
                    return errno == 0 ? null : errno switch
                    {
                        16 => $"NFQUEUE {Number} is bound by another process (EBUSY)",
                        1 => $"NFQUEUE {Number} belongs to another socket (EPERM)",
                        _ => $"the kernel refused to configure NFQUEUE {Number} (errno {errno})",
                    };
                }

                if (TryReadPacket(message, out var id, out _))
                {
                    Pending.Add(id);
                }
            }
        }

        return "no acknowledgement from the kernel";
    }

    /// <summary>Packets read while waiting for a configuration's acknowledgement; the owner gives them their verdicts.</summary>
    public List<uint> Pending { get; } = [];
}
