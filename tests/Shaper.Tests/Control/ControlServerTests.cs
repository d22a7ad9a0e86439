using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Shaper.Control;

namespace Shaper.Tests.Control;

public sealed class ControlServerTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shaper-ctl-").FullName;
    private ControlServer? _server;

    private string SocketPath => Path.Combine(_dir, "s.sock");

    public Task InitializeAsync()
    {
        _server = ControlServer.Start(
            SocketPath,
            (request, _, _) => Task.FromResult(request.Command == "status"
                ? ControlResponse.Success(new JsonObject { ["state"] = "running" })
                : ControlResponse.Failure($"unknown command '{request.Command}'")),
            new AccessPolicy(readFile: _ => null),
            TimeSpan.FromSeconds(2));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _server!.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task SendAsync_Status_AnswersOverTheSocket()
    {
        var response = await new ControlClient(SocketPath, TimeSpan.FromSeconds(5)).SendAsync(new ControlRequest(1, "status", []));
        Assert.True(response.Ok);
        Assert.Equal("running", response.Result!["state"]!.GetValue<string>());
    }

    [Fact]
    public void Start_SocketFile_IsMode0660()
    {
        var mode = File.GetUnixFileMode(SocketPath);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, mode);
    }

    [Theory]
    [InlineData("not json", "the request is not valid JSON")] // garbage
    [InlineData("[1,2]", "a request is a JSON object on one line")] // valid JSON, wrong shape
    [InlineData("{\"cmd\":\"status\"}", "the request has no protocol version \"v\"")] // no version
    [InlineData("{\"v\":2,\"cmd\":\"status\"}", "protocol version 2 is not spoken here; this daemon speaks version 1")] // a future client
    public async Task Serve_BadRequestLine_AnswersAnErrorAndKeepsTheConnection(string line, string error)
    {
        using var socket = await ConnectAsync();
        Assert.Equal(error, (await ExchangeAsync(socket, line))["error"]!.GetValue<string>());

        // The same connection still serves a good request afterwards.
        Assert.True((await ExchangeAsync(socket, "{\"v\":1,\"cmd\":\"status\"}"))["ok"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Serve_ClientThatHangs_IsDroppedWhileOthersAreServed()
    {
        using var hung = await ConnectAsync();
        await hung.SendAsync(Encoding.UTF8.GetBytes("{\"v\":1,")); // never finishes the line

        var response = await new ControlClient(SocketPath, TimeSpan.FromSeconds(5)).SendAsync(new ControlRequest(1, "status", []));
        Assert.True(response.Ok);

        // Past the request timeout the server closes the hung connection: a read sees end of stream.
        var buffer = new byte[16];
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal(0, await hung.ReceiveAsync(buffer, SocketFlags.None, deadline.Token));
    }

    [Fact]
    public async Task Serve_RequestOverTheSizeLimit_IsDropped()
    {
        using var socket = await ConnectAsync();
        var chunk = new byte[64 * 1024];
        Array.Fill(chunk, (byte)'x');
        var dropped = false;
        try
        {
            for (var sent = 0; sent <= ControlProtocol.MaxRequestBytes + chunk.Length; sent += chunk.Length)
            {
                await socket.SendAsync(chunk);
            }

            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            dropped = await socket.ReceiveAsync(new byte[16], SocketFlags.None, deadline.Token) == 0;
        }
        catch (SocketException)
        {
            dropped = true; // the server closed while we were still sending
        }

        Assert.True(dropped);
    }

    [Fact]
    public async Task SendAsync_NoDaemon_SaysSoInOneLine()
    {
        var missing = Path.Combine(_dir, "missing.sock");
        var response = await new ControlClient(missing, TimeSpan.FromSeconds(5), maxAttempts: 2).SendAsync(new ControlRequest(1, "status", []));
        Assert.False(response.Ok);
        Assert.Equal($"shaperd is not running (nothing listens on {missing})", response.Error);
    }

    private async Task<Socket> ConnectAsync()
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath));
        return socket;
    }

    private static async Task<JsonObject> ExchangeAsync(Socket socket, string line)
    {
        await socket.SendAsync(Encoding.UTF8.GetBytes(line + "\n"));
        var received = new List<byte>();
        var buffer = new byte[4096];
        while (!received.Contains((byte)'\n'))
        {
            var n = await socket.ReceiveAsync(buffer);
            Assert.NotEqual(0, n);
            received.AddRange(buffer.AsSpan(0, n).ToArray());
        }

        return (JsonObject)JsonNode.Parse(Encoding.UTF8.GetString([.. received]))!;
    }
}
