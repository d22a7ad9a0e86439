using PacketDotNet;
using SharpPcap;
using SharpPcap.LibPcap;
using Shaper.Packets;

namespace Shaper.Tests.Packets;

/// <summary>
/// The span parser against PacketDotNet, field by field, on pcaps that PacketDotNet built and SharpPcap wrote
/// (<see cref="CaptureFileWriterDevice"/>) and read back (<see cref="CaptureFileReaderDevice"/>): every link
/// type the parser reads, every IP kind of <see cref="ReferenceFrames"/> in each, with random addresses,
/// ports, flags, ICMP types and VLAN ids from a fixed seed.
/// </summary>
public sealed class PacketParserDifferentialTests : IDisposable
{
    /// <summary>Each IP kind this many times per link type.</summary>
    private const int Rounds = 30;

    private readonly string _directory = Directory.CreateTempSubdirectory("shaper-diff-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    public static TheoryData<string> Links =>
    [
        "ethernet", // untagged Ethernet II, with ARP frames in between
        "ethernet-8021q", // one 802.1Q tag
        "ethernet-qinq-88a8", // 802.1ad service tag over a customer tag: the inner VLAN is reported
        "ethernet-qinq-9100", // the pre-standard QinQ TPID over a customer tag
        "linux-sll", // -i any, cooked v1
        "linux-sll-8021q", // cooked v1 with the tag libpcap re-inserts
        "linux-sll2", // cooked v2
        "raw-ip", // DLT_RAW, version from the first nibble
        "raw-ipv4", // LINKTYPE_IPV4 (228): IPv4 packets only
        "raw-ipv6", // LINKTYPE_IPV6 (229): IPv6 packets only
    ];

    [Theory]
    [MemberData(nameof(Links))]
    public void Parse_PacketDotNetPcap_MatchesPacketDotNetFieldByField(string link)
    {
        var rng = new Random(Seed(link));
        var frames = new List<(int Kind, byte[] Frame)>();
        for (var i = 0; i < Rounds * ReferenceFrames.IpKinds; i++)
        {
            var kind = i % ReferenceFrames.IpKinds;
            var ip = ReferenceFrames.IpPacket(rng, kind);
            if ((link == "raw-ipv4" && ip[0] >> 4 != 4) || (link == "raw-ipv6" && ip[0] >> 4 != 6))
            {
                continue;
            }

            frames.Add((kind, Frame(link, rng, ip)));
            if (link == "ethernet" && i % 7 == 0)
            {
                frames.Add((-1, ReferenceFrames.Arp(rng)));
            }
        }

        var (dlt, read) = RoundTrip(LinkLayerOf(link), frames.ConvertAll(f => f.Frame));

        Assert.True(PacketParser.TryFromLinkType(dlt, out var kindOfLink), $"link type {dlt} read back is not supported");
        Assert.Equal(frames.Count, read.Count);
        var mismatches = new List<string>();
        var padded = 0;
        for (var i = 0; i < read.Count; i++)
        {
            var expected = PacketDotNetReference.Decode((LinkLayers)dlt, read[i]);
            var result = PacketParser.Parse(read[i], kindOfLink, out var meta);
            var actual = ParsedFields.From(result, meta);

            // The reference must have seen IP where IP was written, or the comparison proves nothing.
            Assert.Equal(frames[i].Kind < 0 ? ParseResult.NotIp : ParseResult.Ok, expected.Result);
            padded += link == "ethernet" && expected.Result == ParseResult.Ok && read[i].Length > 14 + expected.IpLength ? 1 : 0;
            if (expected != actual)
            {
                mismatches.Add($"frame {i} (kind {frames[i].Kind}) {Convert.ToHexString(read[i])}\n  PacketDotNet {expected}\n  parser       {actual}");
            }
        }

        // Short frames carry Ethernet padding past the IP packet, which neither side may read as headers.
        Assert.True(link != "ethernet" || padded > 0, "no padded frame");
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {read.Count} frames differ:\n" + string.Join('\n', mismatches.Take(5)));
    }

    [Theory]
    [InlineData(1)] // lo
    [InlineData(42)]
    [InlineData(int.MaxValue)] // the largest index the kernel hands out
    public void Parse_LinuxSll2_InterfaceIndexFromTheHeader(int index)
    {
        // The "any" capture's cooked v2 header names the interface the packet arrived on: match.iface needs it.
        var rng = new Random(index);
        var frame = ReferenceFrames.LinuxSll2(rng, ReferenceFrames.IpPacket(rng, 0));
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(4), index);

        Assert.Equal(ParseResult.Ok, PacketParser.Parse(frame, LinkKind.LinuxSll2, out var meta));
        Assert.Equal(index, meta.InterfaceIndex);
        Assert.Equal(ParseResult.Ok, PacketParser.Parse(frame.AsSpan(20), LinkKind.RawIp, out var raw));
        Assert.Equal(0, raw.InterfaceIndex); // a link layer without one: unknown
    }

    [Fact]
    public void Parse_EveryIpKind_CoversEveryProtocolAndExtensionHeader()
    {
        // Guards the generator: the differential test is only as wide as what it feeds in.
        var rng = new Random(7);
        var protocols = new HashSet<byte>();
        var later = 0;
        var options = 0;
        var extensionHeaders = new HashSet<byte>();
        for (var i = 0; i < ReferenceFrames.IpKinds * Rounds; i++)
        {
            var ip = ReferenceFrames.IpPacket(rng, i % ReferenceFrames.IpKinds);
            Assert.Equal(ParseResult.Ok, PacketParser.Parse(ip, LinkKind.RawIp, out var meta));
            protocols.Add(meta.Protocol);
            later += meta.IsLaterFragment ? 1 : 0;
            options += ip[0] is > 0x45 and < 0x50 ? 1 : 0;
            if (ip[0] >> 4 == 6)
            {
                extensionHeaders.Add(ip[6]);
            }
        }

        Assert.Superset(new HashSet<byte> { 1, 6, 17, 47, 58 }, protocols);
        Assert.Superset(new HashSet<byte> { 0, 44, 51, 60 }, extensionHeaders);
        Assert.True(later >= 2 * Rounds, $"{later} later fragments");
        Assert.True(options >= 2 * Rounds, $"{options} IPv4 headers with options");
    }

    private static byte[] Frame(string link, Random rng, byte[] ip)
    {
        var vlan = (ushort)rng.Next(1, 4095);
        var outer = (ushort)rng.Next(1, 4095);
        return link switch
        {
            "ethernet" => ReferenceFrames.Ethernet(rng, ip),
            "ethernet-8021q" => ReferenceFrames.Ethernet(rng, ip, (0x8100, vlan)),
            "ethernet-qinq-88a8" => ReferenceFrames.Ethernet(rng, ip, (0x88A8, outer), (0x8100, vlan)),
            "ethernet-qinq-9100" => ReferenceFrames.Ethernet(rng, ip, (0x9100, outer), (0x8100, vlan)),
            "linux-sll" => ReferenceFrames.LinuxSll(rng, ip),
            "linux-sll-8021q" => ReferenceFrames.LinuxSll(rng, ip, (0x8100, vlan)),
            "linux-sll2" => ReferenceFrames.LinuxSll2(rng, ip),
            "raw-ip" or "raw-ipv4" or "raw-ipv6" => ip,
            _ => throw new ArgumentOutOfRangeException(nameof(link)),
        };
    }

    /// <summary>A seed per case that is the same in every process (string.GetHashCode is not).</summary>
    private static int Seed(string link)
    {
        var seed = 1871;
        foreach (var c in link)
        {
            seed = (seed * 31) + c;
        }

        return seed;
    }

    private static LinkLayers LinkLayerOf(string link) => link switch
    {
        "linux-sll" or "linux-sll-8021q" => LinkLayers.LinuxSll,
        "linux-sll2" => LinkLayers.LinuxSll2,
        "raw-ip" => LinkLayers.RawLegacy, // libpcap's DLT_RAW (12 on Linux); the file says LINKTYPE_RAW (101)
        "raw-ipv4" => LinkLayers.IPv4,
        "raw-ipv6" => LinkLayers.IPv6,
        _ => LinkLayers.Ethernet,
    };

    /// <summary>Writes the frames with SharpPcap and reads them back with SharpPcap: the link type and bytes as a replay sees them.</summary>
    private (int Dlt, List<byte[]> Frames) RoundTrip(LinkLayers link, List<byte[]> frames)
    {
        var path = Path.Combine(_directory, $"{link}.pcap");
        using (var writer = new CaptureFileWriterDevice(path, FileMode.Create))
        {
            writer.Open(new DeviceConfiguration { LinkLayerType = link });
            for (var i = 0; i < frames.Count; i++)
            {
                var header = new PcapHeader(1_700_000_000, (uint)i, (uint)frames[i].Length, (uint)frames[i].Length);
                writer.Write(frames[i], ref header);
            }
        }

        using var reader = new CaptureFileReaderDevice(path);
        reader.Open();
        var read = new List<byte[]>();
        while (reader.GetNextPacket(out var capture) == GetPacketStatus.PacketRead)
        {
            read.Add(capture.Data.ToArray());
        }

        return ((int)reader.LinkType, read);
    }
}
