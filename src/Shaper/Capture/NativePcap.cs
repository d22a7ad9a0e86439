using System.Reflection;
using System.Runtime.InteropServices;

namespace Shaper.Capture;

/// <summary>
/// The one libpcap call of the capture hot path, made directly: SharpPcap's <c>GetNextPacket</c> allocates a
/// header object per packet (64 bytes measured), which a flood turns into heap growth. Opening, filters and
/// statistics stay with SharpPcap.
/// </summary>
internal static unsafe partial class NativePcap
{
    private const string Library = "shaper-pcap";

    static NativePcap()
    {
        NativeLibrary.SetDllImportResolver(typeof(NativePcap).Assembly, Resolve);
    }

    /// <summary>Wakes a reader blocked in pcap_next_ex (libpcap ≥ 1.10 signals its poll), which then returns PCAP_ERROR_BREAK.</summary>
    [LibraryImport(Library, EntryPoint = "pcap_breakloop")]
    public static partial void BreakLoop(SafeHandle pcap);

    /// <summary>
    /// <c>pcap_next_ex</c>: 1 with a packet, 0 on the read timeout, -1 on error, -2 at the end of a file.
    /// The header is the 64-bit Linux <c>struct pcap_pkthdr</c> (timeval of two longs, caplen, len).
    /// </summary>
    [LibraryImport(Library, EntryPoint = "pcap_next_ex")]
    public static partial int NextEx(SafeHandle pcap, out PacketHeader* header, out byte* data);

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
}
