namespace Shaper.Capture;

/// <summary>What live capture saw and lost, for status and metrics.</summary>
/// <param name="Received">Packets libpcap delivered.</param>
/// <param name="PcapDropped">Packets libpcap's buffer dropped (the kernel's count).</param>
/// <param name="InterfaceDropped">Packets the interface dropped, as libpcap reports.</param>
/// <param name="HandOffDropped">Packets dropped because the engine fell behind (the ring was full).</param>
public sealed record CaptureStats(long Received, long PcapDropped, long InterfaceDropped, long HandOffDropped);
