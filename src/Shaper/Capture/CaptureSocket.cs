using System.Runtime.InteropServices;
using Shaper.Packets;

using Shaper.Interop;

namespace Shaper.Capture;

/// <summary>
/// One libpcap handle on an interface, in buffered mode: TPACKET_V3, whose kernel ring hands packets over in blocks,
/// a block retired when full or after the buffer timeout, so a reader wakes once per block instead of once per
/// packet (pcap(3PCAP), "packet buffer timeout"). Optionally a member of a <c>PACKET_FANOUT</c> group.
/// </summary>
internal sealed unsafe class CaptureSocket : IDisposable
{
    private const int SolPacket = 263;
    private const int PacketFanout = 18;
    private const int PacketFanoutData = 22;
    private const int PacketFanoutCbpf = 6;
    private const int DltLinuxSll2 = 276;

    /// <summary>libpcap's pseudo-device that captures on every interface.</summary>
    public const string AnyInterface = "any";

    private readonly object _statsLock = new();
    private CaptureStats _final = new(0, 0, 0, 0);
    private bool _closed;

    private CaptureSocket(PcapHandle handle, LinkKind link, int interfaceIndex)
    {
        Handle = handle;
        Link = link;
        InterfaceIndex = interfaceIndex;
    }

    public PcapHandle Handle { get; }

    public LinkKind Link { get; }

    /// <summary>The interface's index (if_nametoindex), the same for every packet of this socket.</summary>
    public int InterfaceIndex { get; }

    /// <summary>Opens <paramref name="interfaceName"/> with <paramref name="filter"/> (libpcap syntax; empty for all).</summary>
    /// <exception cref="InvalidOperationException">No such interface, no permission, a bad filter or an unknown link type; the message says which.</exception>
    public static CaptureSocket Open(string interfaceName, string filter, int bufferBytes, int timeoutMs, int snaplen)
    {
        var error = stackalloc byte[NativePcap.ErrorBufferSize];
        var raw = NativePcap.Create(interfaceName, error);
        if (raw == 0)
        {
            throw new InvalidOperationException($"cannot capture on '{interfaceName}': {NativePcap.Text(error)}");
        }

        var handle = new PcapHandle(raw);
        try
        {
            _ = NativePcap.SetSnaplen(handle, snaplen);
            _ = NativePcap.SetBufferSize(handle, bufferBytes);
            _ = NativePcap.SetTimeout(handle, timeoutMs);
            _ = NativePcap.SetImmediateMode(handle, 0);
            var status = NativePcap.Activate(handle);
            if (status < 0)
            {
                var detail = NativePcap.Text(NativePcap.GetError(handle));
                var what = NativePcap.Text(NativePcap.StatusToString(status));
                throw new InvalidOperationException($"cannot capture on '{interfaceName}': {(detail.Length > 0 ? detail : what)}");
            }

            // On "any" the cooked v2 header (DLT_LINUX_SLL2, libpcap 1.10 and later) carries each packet's interface
            // index, which rules with match.iface need; without it every packet's interface is unknown.
            if (interfaceName == AnyInterface)
            {
                _ = NativePcap.SetDatalink(handle, DltLinuxSll2);
            }

            if (!PacketParser.TryFromLinkType(NativePcap.DataLink(handle), out var link))
            {
                throw new InvalidOperationException($"interface '{interfaceName}' has link type {NativePcap.DataLink(handle)}, which the parser does not read");
            }

            if (filter.Length > 0)
            {
                NativePcap.BpfProgram program;
                if (NativePcap.Compile(handle, &program, filter, 1, 0xFFFFFFFF) != 0)
                {
                    throw new InvalidOperationException($"capture filter '{filter}': {NativePcap.Text(NativePcap.GetError(handle))}");
                }

                var set = NativePcap.SetFilter(handle, &program);
                NativePcap.FreeCode(&program);
                if (set != 0)
                {
                    throw new InvalidOperationException($"capture filter '{filter}': {NativePcap.Text(NativePcap.GetError(handle))}");
                }
            }

            return new CaptureSocket(handle, link, (int)LibC.IfNameToIndex(interfaceName));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Joins fanout group <paramref name="group"/>, which shares packets by a classic BPF program.</summary>
    public void JoinFanout(ushort group)
    {
        var argument = group | (PacketFanoutCbpf << 16);
        if (LibC.SetSockOpt(NativePcap.FileNo(Handle), SolPacket, PacketFanout, &argument, sizeof(int)) != 0)
        {
            throw new InvalidOperationException($"PACKET_FANOUT: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
    }

    /// <summary>Sets the group's program (any member may): which socket each packet goes to.</summary>
    public void SetFanoutProgram(SockFilter[] program)
    {
        fixed (SockFilter* instructions = program)
        {
            var fprog = new SockFprog { Length = (ushort)program.Length, Filter = instructions };
            if (LibC.SetSockOpt(NativePcap.FileNo(Handle), SolPacket, PacketFanoutData, &fprog, (uint)sizeof(SockFprog)) != 0)
            {
                throw new InvalidOperationException($"PACKET_FANOUT_DATA: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            }
        }
    }

    /// <summary>The reason of the last failed call, as libpcap says it.</summary>
    public string LastError()
    {
        try
        {
            return NativePcap.Text(NativePcap.GetError(Handle));
        }
        catch (ObjectDisposedException)
        {
            return "capture closed";
        }
    }

    /// <summary>The kernel's counts for this socket (libpcap's pcap_stats); the last counts once closed.</summary>
    public CaptureStats Stats()
    {
        lock (_statsLock)
        {
            if (_closed)
            {
                return _final;
            }

            NativePcap.PcapStat stats;
            if (NativePcap.Stats(Handle, &stats) == 0)
            {
                _final = new CaptureStats(stats.Received, stats.Dropped, stats.InterfaceDropped, 0);
            }

            return _final;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_statsLock)
        {
            if (_closed)
            {
                return;
            }

            _final = Stats();
            _closed = true;
        }

        Handle.Dispose();
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SockFprog
    {
        public ushort Length;
        public SockFilter* Filter;
    }
}
