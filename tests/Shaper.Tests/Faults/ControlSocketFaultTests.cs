using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Shaper.Control;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Faults;

/// <summary>
/// Clients that try to stall the daemon's control socket (issue 14, item 8), and requests it used to misread
/// (item 12): shaperd runs in a lab namespace; <c>status</c> must still answer at once.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class ControlSocketFaultTests(ITestOutputHelper output)
{
    private const int Samples = 20;

    /// <summary>Well under the 5 s an idle client may wait before it is dropped, and under a client's own timeout.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(2);

    [RootFact]
    public async Task Status_With100IdleClientsConnected_AnswersAtOnce()
    {
        using var lab = NetworkLab.Create();
        using var daemon = DaemonProcess.Start(lab.B, "");
        var idle = new List<Socket>();
        try
        {
            var connected = Stopwatch.StartNew();
            for (var i = 0; i < 100; i++)
            {
                idle.Add(await ConnectAsync(daemon.Socket));
            }

            var latencies = await MeasureStatusAsync(daemon.Socket);
            output.WriteLine(Figure("100 idle clients", latencies));

            // The figure counts only while the idle clients were still connected (the server drops them after 5 s idle).
            Assert.True(connected.Elapsed < ControlServer.DefaultRequestTimeout, $"measuring took {connected.Elapsed}; the idle clients may have been dropped first");
            Assert.All(latencies, l => Assert.True(l < Bound, $"status took {l.TotalMilliseconds:F0} ms with 100 idle clients"));
        }
        finally
        {
            idle.ForEach(s => s.Dispose());
        }
    }

    [RootFact]
    public async Task Status_With32ClientsThatPipelineAndNeverRead_AnswersAtOnceAndTheyAreDropped()
    {
        using var lab = NetworkLab.Create();
        using var daemon = DaemonProcess.Start(lab.B, "");
        var pipelining = new List<Socket>();
        try
        {
            for (var i = 0; i < 32; i++)
            {
                pipelining.Add(await ConnectAsync(daemon.Socket));
            }

            // Each sends 2,000 status requests in one write and reads nothing: the replies (about 800 bytes each)
            // overflow its socket buffer, so the daemon's write to it blocks.
            var requests = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("{\"v\":1,\"cmd\":\"status\"}\n", 2000)));
            using var sending = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var sends = pipelining.Select(s => s.SendAsync(requests, SocketFlags.None, sending.Token).AsTask()).ToList();

            var latencies = await MeasureStatusAsync(daemon.Socket);
            output.WriteLine(Figure("32 pipelining clients that never read", latencies));
            Assert.All(latencies, l => Assert.True(l < Bound, $"status took {l.TotalMilliseconds:F0} ms with 32 pipelining clients"));
            await Task.WhenAll(sends); // every request went out: the daemon held them, unanswered, not the client

            // A client that does not read its replies is dropped after the write timeout. Still not reading, it
            // sees that when a write of its own meets the closed end (EPIPE)...
            var watch = Stopwatch.StartNew();
            while (!PeerClosed(pipelining[0]))
            {
                Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), "the daemon kept a client that never reads for 30 s");
                await Task.Delay(100);
            }

            output.WriteLine($"the daemon closed the first pipelining client {watch.Elapsed.TotalSeconds:F1} s after the measurement");

            // ...and reading now gets fewer replies than it asked for, then the end (a reset: the daemon closed with
            // the client's requests still unread).
            pipelining[0].Blocking = true;
            var buffer = new byte[1 << 16];
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var replies = 0L;
            try
            {
                int read;
                while ((read = await pipelining[0].ReceiveAsync(buffer, SocketFlags.None, deadline.Token)) > 0)
                {
                    replies += buffer.AsSpan(0, read).Count((byte)'\n');
                }
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
            {
            }

            output.WriteLine($"it got {replies} of its 2000 replies");
            Assert.InRange(replies, 0, 1999);
        }
        finally
        {
            pipelining.ForEach(s => s.Dispose());
        }
    }

    [RootFact]
    public async Task Request_WithARepeatedKey_GetsAnErrorReply()
    {
        using var lab = NetworkLab.Create();
        using var daemon = DaemonProcess.Start(lab.B, "");
        using var socket = await ConnectAsync(daemon.Socket);

        var reply = await ExchangeAsync(socket, "{\"v\":1,\"cmd\":\"status\",\"cmd\":\"block.add\",\"args\":{\"address\":\"198.18.5.5\"}}");

        Assert.NotNull(reply);
        Assert.False(reply["ok"]!.GetValue<bool>());
        Assert.Equal("the request repeats a key; give each key once", reply["error"]!.GetValue<string>());
        Assert.Empty((await daemon.SendAsync("block.list")).Result!["blocks"]!.AsArray());

        // The connection goes on serving.
        Assert.True((await ExchangeAsync(socket, "{\"v\":1,\"cmd\":\"status\"}"))!["ok"]!.GetValue<bool>());
    }

    [RootFact]
    public async Task BlockAdd_ForThatIsNotAString_IsAnErrorNotTenMinutes()
    {
        using var lab = NetworkLab.Create();
        using var daemon = DaemonProcess.Start(lab.B, "");

        var response = await daemon.SendAsync("block.add", new() { ["address"] = "198.18.5.5", ["for"] = new JsonObject { ["m"] = 1 } });

        Assert.False(response.Ok);
        Assert.Equal("block.add: argument \"for\" must be a string", response.Error);
        Assert.Empty((await daemon.SendAsync("block.list")).Result!["blocks"]!.AsArray());
        Assert.DoesNotContain("198.18.5.5", lab.Exec(lab.B, "nft", "list", "set", "inet", "shaper", "block_v4").Output, StringComparison.Ordinal);
    }

    /// <summary>Times <see cref="Samples"/> status requests, each on a new connection as shaperctl makes them.</summary>
    private static async Task<List<TimeSpan>> MeasureStatusAsync(string socket)
    {
        var client = new ControlClient(socket, TimeSpan.FromSeconds(10), maxAttempts: 1);
        var latencies = new List<TimeSpan>();
        for (var i = 0; i < Samples; i++)
        {
            var watch = Stopwatch.StartNew();
            var response = await client.SendAsync(new ControlRequest(ControlProtocol.Version, "status", []));
            latencies.Add(watch.Elapsed);
            Assert.True(response.Ok, response.Error);
        }

        return latencies;
    }

    private static string Figure(string load, List<TimeSpan> latencies)
    {
        var sorted = latencies.Select(l => l.TotalMilliseconds).Order().ToList();
        return string.Create(CultureInfo.InvariantCulture, $"status latency with {load}: median {sorted[sorted.Count / 2]:F1} ms, max {sorted[^1]:F1} ms over {sorted.Count} requests");
    }

    /// <summary>True once the daemon has closed its end: a one-byte write fails with EPIPE (a full buffer is only EAGAIN).</summary>
    private static bool PeerClosed(Socket socket)
    {
        try
        {
            socket.Blocking = false;
            socket.Send([(byte)' ']);
            return false;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
        {
            return false;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.Shutdown or SocketError.ConnectionReset or SocketError.ConnectionAborted)
        {
            return true;
        }
    }

    private static async Task<Socket> ConnectAsync(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
        return socket;
    }

    /// <summary>Sends one line and reads one reply line; null when the daemon closed the connection instead.</summary>
    private static async Task<JsonObject?> ExchangeAsync(Socket socket, string line)
    {
        await socket.SendAsync(Encoding.UTF8.GetBytes(line + "\n"));
        var received = new List<byte>();
        var buffer = new byte[4096];
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!received.Contains((byte)'\n'))
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
            if (n == 0)
            {
                return null;
            }

            received.AddRange(buffer.AsSpan(0, n).ToArray());
        }

        return (JsonObject)JsonNode.Parse(Encoding.UTF8.GetString([.. received]))!;
    }
}
