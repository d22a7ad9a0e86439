using System.Reflection;
using System.Runtime.InteropServices;

namespace Shaper.Capture;

/// <summary>
/// libpcap, called directly: live capture needs the buffered (non-immediate) TPACKET_V3 mode with a short buffer
/// timeout, <c>pcap_dispatch</c> over whole blocks, and the socket itself for <c>PACKET_FANOUT</c>, none of which
/// SharpPcap's device API exposes; and SharpPcap's per-packet API allocates a header object per packet.
/// </summary>
internal static unsafe partial class NativePcap
{
    /// <summary>pcap_dispatch's return when pcap_breakloop ended it.</summary>
    public const int ErrorBreak = -2;

    /// <summary>libpcap's PCAP_ERRBUF_SIZE.</summary>
    public const int ErrorBufferSize = 256;

    private const string Library = "shaper-pcap";

    static NativePcap()
    {
        NativeLibrary.SetDllImportResolver(typeof(NativePcap).Assembly, Resolve);
    }

    [LibraryImport(Library, EntryPoint = "pcap_create", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint Create(string source, byte* errorBuffer);

    [LibraryImport(Library, EntryPoint = "pcap_set_snaplen")]
    public static partial int SetSnaplen(PcapHandle pcap, int snaplen);

    [LibraryImport(Library, EntryPoint = "pcap_set_timeout")]
    public static partial int SetTimeout(PcapHandle pcap, int milliseconds);

    [LibraryImport(Library, EntryPoint = "pcap_set_buffer_size")]
    public static partial int SetBufferSize(PcapHandle pcap, int bytes);

    [LibraryImport(Library, EntryPoint = "pcap_set_immediate_mode")]
    public static partial int SetImmediateMode(PcapHandle pcap, int on);

    /// <summary>0 on success, a positive warning, or a negative PCAP_ERROR_* code.</summary>
    [LibraryImport(Library, EntryPoint = "pcap_activate")]
    public static partial int Activate(PcapHandle pcap);

    [LibraryImport(Library, EntryPoint = "pcap_geterr")]
    public static partial byte* GetError(PcapHandle pcap);

    [LibraryImport(Library, EntryPoint = "pcap_statustostr")]
    public static partial byte* StatusToString(int status);

    [LibraryImport(Library, EntryPoint = "pcap_compile", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Compile(PcapHandle pcap, BpfProgram* program, string expression, int optimize, uint netmask);

    [LibraryImport(Library, EntryPoint = "pcap_setfilter")]
    public static partial int SetFilter(PcapHandle pcap, BpfProgram* program);

    [LibraryImport(Library, EntryPoint = "pcap_freecode")]
    public static partial void FreeCode(BpfProgram* program);

    [LibraryImport(Library, EntryPoint = "pcap_datalink")]
    public static partial int DataLink(PcapHandle pcap);

    [LibraryImport(Library, EntryPoint = "pcap_fileno")]
    public static partial int FileNo(PcapHandle pcap);

    [LibraryImport(Library, EntryPoint = "pcap_stats")]
    public static partial int Stats(PcapHandle pcap, PcapStat* stats);

    /// <summary>
    /// <c>pcap_dispatch</c>: processes the packets the kernel has handed over (in TPACKET_V3, every block it has
    /// retired), waiting for one block first; the number processed, or -1 on error, <see cref="ErrorBreak"/> after
    /// pcap_breakloop.
    /// </summary>
    [LibraryImport(Library, EntryPoint = "pcap_dispatch")]
    public static partial int Dispatch(PcapHandle pcap, int count, delegate* unmanaged<byte*, PacketHeader*, byte*, void> callback, byte* user);

    /// <summary>Wakes a reader blocked in pcap_dispatch (libpcap ≥ 1.10 signals its poll), which then returns <see cref="ErrorBreak"/>.</summary>
    [LibraryImport(Library, EntryPoint = "pcap_breakloop")]
    public static partial void BreakLoop(PcapHandle pcap);

    [LibraryImport(Library, EntryPoint = "pcap_set_datalink")]
    public static partial int SetDatalink(PcapHandle pcap, int dlt);

    [LibraryImport(Library, EntryPoint = "pcap_close")]
    public static partial void Close(nint pcap);

    /// <summary>A C string from libpcap as text.</summary>
    public static string Text(byte* text) => text is null ? "" : Marshal.PtrToStringUTF8((nint)text) ?? "";

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != Library)
        {
            return 0;
        }

        foreach (var candidate in new[] { "libpcap.so.0.8", "libpcap.so.1", "libpcap.so" })
        {
            if (NativeLibrary.TryLoad(candidate, out var handle))
            {
                return handle;
            }
        }

        return 0;
    }

    /// <summary>The 64-bit Linux <c>struct pcap_pkthdr</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PacketHeader
    {
        public long Seconds;
        public long Microseconds;
        public uint CaptureLength;
        public uint Length;
    }

    /// <summary><c>struct bpf_program</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct BpfProgram
    {
        public uint Length;
        public nint Instructions;
    }

    /// <summary><c>struct pcap_stat</c> on Linux.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PcapStat
    {
        public uint Received;
        public uint Dropped;
        public uint InterfaceDropped;
    }
}
