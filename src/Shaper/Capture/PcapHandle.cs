using System.Runtime.InteropServices;

namespace Shaper.Capture;

/// <summary>A libpcap <c>pcap_t</c>, closed once no call holds it any more.</summary>
internal sealed class PcapHandle : SafeHandle
{
    public PcapHandle()
        : base(0, ownsHandle: true)
    {
    }

    public PcapHandle(nint handle)
        : base(0, ownsHandle: true) => SetHandle(handle);

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        NativePcap.Close(handle);
        return true;
    }
}
