using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Daemon;

/// <summary>shaperd in one namespace, traffic from another: observe rules, blocks, reloads, the control socket.</summary>
[Collection(KernelTrafficCollection.Name)]
public sealed partial class DaemonEndToEndTests(ITestOutputHelper output)
{
    private const int Sources = 20;

    private const string ObserveRule = """
        [[rule]]
        name = "udp-flood"
        match = { proto = "udp", dport = [9000] }
        algorithm = "sliding_window"
        limit = 20
        window = "1s"
        enforce = "observe"
        action = "block"
        block_for = "5s"
        """;

    [RootFact]
    public async Task ObserveRule_TwentySourcesAtHundredPerSecond_BlockedShownAndExpiredOnTime()
    {
        using var lab = NetworkLab.Create();
        Tally.Install(lab);
        using var daemon = DaemonProcess.Start(lab.B, ObserveRule, $"interface = \"{NetworkLab.ReceiverInterface}\"");
        var pcap = Path.Combine(Path.GetTempPath(), $"shaper-e2e-{Environment.ProcessId}.pcap");

        // The start rehearses the block path (blocks of no time): nothing of it may be blocked, listed or logged.
        Assert.Empty((await daemon.SendAsync("block.list")).Result!["blocks"]!.AsArray());
        Assert.DoesNotContain("elements", lab.Exec(lab.B, "nft", "list", "set", "inet", "shaper", "block_v4").Output, StringComparison.Ordinal);
        Assert.DoesNotContain("elements", lab.Exec(lab.B, "nft", "list", "set", "inet", "shaper", "block_v6").Output, StringComparison.Ordinal);
        Assert.DoesNotContain("rehearsal", daemon.Log, StringComparison.Ordinal);

        // Each source: 100 packets a second for 2 s, the sources interleaved 0.5 ms apart.
        TrafficPcap.Write(pcap, Enumerable.Range(0, 200).SelectMany(k => Enumerable.Range(0, Sources).Select(s =>
            new TrafficPcap.Udp((k * 10_000_000L) + (s * 500_000L), 0xC6121400u + (uint)s, 9000))));
        try
        {
            var sent = lab.Exec(lab.A, "tcpreplay", "-q", "-i", "va", pcap);
            Assert.True(sent.ExitCode == 0, sent.Error);
            var blockedAt = DateTime.UtcNow;

            var counters = await daemon.SendAsync("counters", new() { ["top"] = 100 });
            Assert.True(counters.Ok, counters.Error);
            var keys = counters.Result!["rules"]![0]!["keys"]!.AsArray();
            Assert.Equal(Sources, keys.Count);
            Assert.All(keys, k => Assert.True(k!["limited"]!.GetValue<long>() > 0, $"{k["key"]} was never limited"));

            // Listed once acknowledged (in the kernel and durable on disk): a disk busy with other work can hold the
            // acknowledgement back a while after the traffic ends, so wait for it (bounded).
            List<string> listed;
            var listing = Stopwatch.StartNew();
            while (true)
            {
                var blocks = await daemon.SendAsync("block.list");
                listed = blocks.Result!["blocks"]!.AsArray().Select(b => b!.GetValue<string>()).ToList();
                if (listed.Count >= Sources || listing.Elapsed > TimeSpan.FromSeconds(3))
                {
                    break;
                }

                await Task.Delay(50);
            }

            output.WriteLine($"{listed.Count} listed {listing.ElapsedMilliseconds} ms after the traffic ended");
            Assert.Equal(Sources, listed.Count);

            // One log line per block, written once it is in the kernel, by the bookkeeping thread.
            for (var s = 0; s < Sources; s++)
            {
                Assert.Contains($"blocked 198.18.20.{s} for 5 s", daemon.Log, StringComparison.Ordinal);
            }

            // Through the kernel: the 20 the window allows, the one that crossed, and at most 3 more before the block.
            var tally = Tally.Read(lab);
            for (var s = 0; s < Sources; s++)
            {
                var through = tally.GetValueOrDefault($"198.18.20.{s}");
                output.WriteLine($"198.18.20.{s}: {through} through of 200");
                Assert.InRange(through, 21, 24);
            }

            // The blocks end 5 s after they began: gone from the daemon and from the kernel soon after.
            var status = await daemon.SendAsync("status");
            output.WriteLine(status.Result!.ToJsonString());

            // Detection to block by hop: each of the 20 blocks went through capture, the queue and a commit, and no
            // hop's median is longer than the whole's p99.
            var hops = status.Result!["detect_to_block_hops"]!;
            var whole = status.Result!["detect_to_block_p99_ms"]!.GetValue<double>();
            foreach (var hop in new[] { "capture", "queue", "commit" })
            {
                Assert.InRange(hops[hop + "_p50_ms"]!.GetValue<double>(), 0, whole);
            }

            Assert.InRange(hops["batch_p50"]!.GetValue<double>(), 1, Sources);
            while (DateTime.UtcNow - blockedAt < TimeSpan.FromSeconds(8))
            {
                if ((await daemon.SendAsync("block.list")).Result!["blocks"]!.AsArray().Count == 0)
                {
                    break;
                }

                await Task.Delay(100);
            }

            Assert.Empty((await daemon.SendAsync("block.list")).Result!["blocks"]!.AsArray());
            Assert.DoesNotContain("198.18.20.", lab.Exec(lab.B, "nft", "list", "set", "inet", "shaper", "block_v4").Output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(pcap);
        }
    }

    [RootFact]
    public async Task Reload_BrokenFile_KeepsTheRunningRulesAndSaysWhy()
    {
        using var lab = NetworkLab.Create();
        using var daemon = DaemonProcess.Start(lab.B, "[[rule]]\nname = \"ssh-new\"\nmatch = { proto = \"tcp\", dport = [22], syn = true }\nrate = \"10/minute\"\nburst = 5\n");
        var before = lab.Exec(lab.B, "nft", "list", "chain", "inet", "shaper", "input").Output;
        var path = Path.Combine(daemon.Directory, "shaper.toml");
        File.WriteAllText(path, File.ReadAllText(path).Replace("burst = 5", "burts = 5", StringComparison.Ordinal));

        var reload = await daemon.SendAsync("reload");

        Assert.False(reload.Ok);
        Assert.Contains("unknown key 'burts'", reload.Error, StringComparison.Ordinal);
        Assert.Equal(before, lab.Exec(lab.B, "nft", "list", "chain", "inet", "shaper", "input").Output);
        Assert.Equal(1, (await daemon.SendAsync("status")).Result!["rules"]!.GetValue<int>());
        Assert.Contains("reload (shaperctl reload) refused, the running rules stay", daemon.Log, StringComparison.Ordinal);
    }

    [RootFact]
    public async Task ControlSocket_NonMemberWrite_IsRefusedButMayRead()
    {
        using var lab = NetworkLab.Create();
        using var daemon = DaemonProcess.Start(lab.B, "");

        // Open the socket's mode so that an unprivileged user can connect at all; the daemon then decides
        // from SO_PEERCRED who may change things.
        File.SetUnixFileMode(daemon.Directory, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(daemon.Socket, (UnixFileMode)0b110_110_110);
        var (status, block) = await Task.Factory.StartNew(
            () =>
            {
                // Only this thread becomes nobody (raw setresuid/setresgid change one thread); it connects, so
                // the kernel records nobody's credentials on the connection.
                if (Syscall(119, 65534, 65534, 0) != 0 || Syscall(117, 65534, 65534, 0) != 0)
                {
                    throw new InvalidOperationException("cannot drop privileges on the test thread");
                }

                try
                {
                    return (Exchange(daemon.Socket, "{\"v\":1,\"cmd\":\"status\"}"), Exchange(daemon.Socket, "{\"v\":1,\"cmd\":\"block.add\",\"args\":{\"address\":\"198.18.1.1\"}}"));
                }
                finally
                {
                    Syscall(117, 0, 0, 0);
                    Syscall(119, 0, 0, 0);
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

        Assert.True(JsonNode.Parse(status)!["ok"]!.GetValue<bool>(), status);
        var refused = JsonNode.Parse(block)!;
        Assert.False(refused["ok"]!.GetValue<bool>(), block);
        Assert.StartsWith("permission denied: 'block.add' changes the daemon", refused["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty((await daemon.SendAsync("block.list")).Result!["blocks"]!.AsArray());
    }

    private static string Exchange(string path, string line)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(path));
        socket.Send(Encoding.UTF8.GetBytes(line + "\n"));
        var buffer = new byte[8192];
        var received = new StringBuilder();
        while (!received.ToString().Contains('\n', StringComparison.Ordinal))
        {
            var n = socket.Receive(buffer);
            if (n == 0)
            {
                break;
            }

            received.Append(Encoding.UTF8.GetString(buffer, 0, n));
        }

        return received.ToString();
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long a, long b, long c);
}
