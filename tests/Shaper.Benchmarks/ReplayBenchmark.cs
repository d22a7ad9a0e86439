using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using PacketDotNet;
using SharpPcap;
using SharpPcap.LibPcap;
using Shaper.Engine;
using Shaper.Limiting;
using Shaper.Packets;
using Shaper.Replay;
using Shaper.Rules;

namespace Shaper.Benchmarks;

/// <summary>
/// Issue 3: replay packets per second on a generated pcap of 2,000,000 small packets from 100,000 sources
/// with three rules, side by side in the same run with (a) a SharpPcap read-only loop over the same file
/// and (b) the same replay with PacketDotNet parsing instead of the span parser; and the peak memory of
/// a replay, measured in a child process that does nothing else.
/// </summary>
internal static class ReplayBenchmark
{
    private const int Sources = 100_000;

    public static JsonObject Run(BenchOptions options)
    {
        var packets = options.Quick ? 500_000 : 2_000_000;
        var path = Path.Combine(Path.GetTempPath(), $"shaper-bench-{packets}.pcap");
        if (!File.Exists(path))
        {
            Generate(path, packets);
        }

        var rules = CompiledRuleSet.Compile(BenchRules());
        var reps = options.Quick ? 2 : 3;
        var ours = new List<double>();
        var readOnly = new List<double>();
        var pdn = new List<double>();
        for (var r = 0; r < reps; r++)
        {
            readOnly.Add(Timed(() => ReadOnly(path)));
            ours.Add(Timed(() => Replay(path, rules)));
            pdn.Add(Timed(() => ReplayWithPacketDotNet(path, rules)));
        }

        var peakMb = PeakRssOfChild(path);
        var result = new JsonObject
        {
            ["packets"] = packets,
            ["sources"] = Sources,
            ["replay_pps"] = Math.Round(Measure.Median(ours)),
            ["read_only_pps"] = Math.Round(Measure.Median(readOnly)),
            ["packetdotnet_pps"] = Math.Round(Measure.Median(pdn)),
            ["peak_rss_mb"] = Math.Round(peakMb, 1),
        };
        result["replay_vs_read_only"] = Math.Round(Measure.Median(ours) / Measure.Median(readOnly), 3);
        result["replay_vs_packetdotnet"] = Math.Round(Measure.Median(ours) / Measure.Median(pdn), 2);
        Console.WriteLine($"replay {packets:N0} packets, {Sources:N0} sources, 3 rules");
        Console.WriteLine($"  read-only SharpPcap loop {Measure.Median(readOnly),14:N0} pps");
        Console.WriteLine($"  replay (span parser)     {Measure.Median(ours),14:N0} pps  ({result["replay_vs_read_only"]} of read-only)");
        Console.WriteLine($"  replay (PacketDotNet)    {Measure.Median(pdn),14:N0} pps  (ours is {result["replay_vs_packetdotnet"]}x)");
        Console.WriteLine($"  peak RSS of a replay     {peakMb,14:F1} MB");
        return result;
    }

    /// <summary>The child process's job: one replay, then print VmHWM.</summary>
    public static int RunChild(string path)
    {
        var packets = Replay(path, CompiledRuleSet.Compile(BenchRules()));
        Console.WriteLine($"packets={packets}");
        Console.WriteLine($"vmhwm_kb={ReadVmHwmKb()}");
        return 0;
    }

    internal static ShaperConfig BenchRules() => new()
    {
        Allow = [IPNetwork.Parse("127.0.0.0/8")],
        Rules =
        [
            new Rule
            {
                Name = "udp-per-src",
                Match = new RuleMatch { Proto = Protocol.Udp },
                Per = KeyScope.Source,
                Rate = new RateSpec(Rate.PerSecondOf(10), RateUnit.Packets, "10/s"),
                Burst = 20,
            },
            new Rule
            {
                Name = "dns-per-src24",
                Match = new RuleMatch { Proto = Protocol.Udp, Dport = [new PortRange(53, 53)] },
                Per = new KeyScope(KeyKind.Source, 24, 64),
                Rate = new RateSpec(Rate.PerSecondOf(100), RateUnit.Packets, "100/s"),
                Burst = 200,
            },
            new Rule
            {
                Name = "bytes-per-src",
                Per = KeyScope.Source,
                Rate = new RateSpec(Rate.PerSecondOf(1 << 20), RateUnit.Bytes, "1 mbytes/s"),
                Burst = 1 << 16,
                Enforce = EnforceKind.Observe,
            },
        ],
    };

    private static double Timed(Func<long> run)
    {
        var sw = Stopwatch.StartNew();
        var packets = run();
        return packets / sw.Elapsed.TotalSeconds;
    }

    private static long ReadOnly(string path)
    {
        using var device = new CaptureFileReaderDevice(path);
        device.Open();
        long packets = 0, bytes = 0;
        while (device.GetNextPacket(out var capture) == GetPacketStatus.PacketRead)
        {
            packets++;
            bytes += capture.Data.Length + (long)capture.Header.Timeval.MicroSeconds;
        }

        GC.KeepAlive(bytes);
        return packets;
    }

    private static long Replay(string path, CompiledRuleSet rules)
    {
        using var source = ReplaySources.Open(path);
        var result = ReplayRunner.Run(rules, source, TimeProvider.System);
        return result.Frames.Total;
    }

    /// <summary>The same replay (same runner, same engine, same reader thread) with PacketDotNet decoding each frame.</summary>
    private static long ReplayWithPacketDotNet(string path, CompiledRuleSet rules)
    {
        using var source = new PacketDotNetSource(path);
        var result = ReplayRunner.Run(rules, source, TimeProvider.System);
        return result.Frames.Total;
    }

    private static double PeakRssOfChild(string path)
    {
        var self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            start.ArgumentList.Add(typeof(ReplayBenchmark).Assembly.Location);
        }

        start.ArgumentList.Add("--replay-child");
        start.ArgumentList.Add(path);
        using var child = Process.Start(start)!;
        var output = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        foreach (var line in output.Split('\n'))
        {
            if (line.StartsWith("vmhwm_kb=", StringComparison.Ordinal))
            {
                return long.Parse(line["vmhwm_kb=".Length..], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
            }
        }

        throw new InvalidOperationException("the replay child printed no peak memory: " + output);
    }

    private static long ReadVmHwmKb()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                return long.Parse(line[6..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return -1;
    }

    /// <summary>Ethernet/IPv4/UDP frames of 60 bytes; every 4th to port 53; sources cycle through 100k addresses, 1 µs apart.</summary>
    private static void Generate(string path, int packets)
    {
        var temp = path + ".tmp";
        using (var writer = new CaptureFileWriterDevice(temp, FileMode.Create))
        {
            writer.Open(new DeviceConfiguration { LinkLayerType = LinkLayers.Ethernet });
            var frame = new byte[60];
            var rng = new Random(42);
            for (var i = 0; i < packets; i++)
            {
                var src = 0xC6120000u + (uint)rng.Next(Sources);
                var dport = (ushort)(i % 4 == 0 ? 53 : 9000);
                WriteUdpFrame(frame, src, 0xC613FFFEu, 40000, dport);
                var micros = (ulong)i;
                var header = new PcapHeader(1_700_000_000 + (uint)(micros / 1_000_000), (uint)(micros % 1_000_000), 60, 60);
                writer.Write(frame, ref header);
            }
        }

        File.Move(temp, path, overwrite: true);
    }

    private static void WriteUdpFrame(Span<byte> f, uint src, uint dst, ushort sport, ushort dport)
    {
        f.Clear();
        f[0] = 0x02;
        f[6] = 0x02;
        f[11] = 1;
        BinaryPrimitives.WriteUInt16BigEndian(f[12..], 0x0800);
        var ip = f[14..];
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], 46);
        ip[8] = 64;
        ip[9] = 17;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], src);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], dst);
        uint sum = 0;
        for (var i = 0; i < 20; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(ip[i..]);
        }

        sum = (sum & 0xFFFF) + (sum >> 16);
        sum += sum >> 16;
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], (ushort)~sum);
        var udp = ip[20..];
        BinaryPrimitives.WriteUInt16BigEndian(udp, sport);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], dport);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], 26);
    }
}
