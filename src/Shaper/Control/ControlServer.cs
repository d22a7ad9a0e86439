using System.Net.Sockets;
using System.Text;

namespace Shaper.Control;

/// <summary>
/// Serves the control socket: accepts connections, reads one request per line (at most
/// <see cref="ControlProtocol.MaxRequestBytes"/>, within a request timeout), checks write
/// commands against <see cref="AccessPolicy"/> using the peer's <c>SO_PEERCRED</c>, and answers one line
/// per request. A client that sends garbage gets an error; one that hangs or floods is dropped; neither
/// affects other clients, and at most <see cref="MaxClients"/> are served at once.
/// </summary>
public sealed class ControlServer : IAsyncDisposable
{
    /// <summary>How long a client may take to send one request line, unless the caller says otherwise.</summary>
    public static readonly TimeSpan DefaultRequestTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Clients served at once; more wait in the listen backlog.</summary>
    public const int MaxClients = 32;

    private readonly Socket _listener;
    private readonly Func<ControlRequest, PeerCredentials, CancellationToken, Task<ControlResponse>> _handler;
    private readonly AccessPolicy _policy;
    private readonly SemaphoreSlim _slots = new(MaxClients);
    private readonly CancellationTokenSource _stop = new();
    private readonly TimeSpan _requestTimeout;
    private Task? _acceptLoop;

    private ControlServer(Socket listener, Func<ControlRequest, PeerCredentials, CancellationToken, Task<ControlResponse>> handler, AccessPolicy policy, TimeSpan requestTimeout)
    {
        _requestTimeout = requestTimeout;
        _listener = listener;
        _handler = handler;
        _policy = policy;
    }

    /// <summary>
    /// Binds <paramref name="path"/> (replacing a stale socket file), sets mode 0660 and, when the policy's
    /// group exists, that group, then starts serving.
    /// </summary>
    public static ControlServer Start(
        string path,
        Func<ControlRequest, PeerCredentials, CancellationToken, Task<ControlResponse>> handler,
        AccessPolicy policy,
        TimeSpan? requestTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(policy);
        var directory = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        if (File.Exists(path))
        {
            File.Delete(path);
        }

        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
        if (policy.GroupId is { } gid)
        {
            _ = NativeChown(path, -1, (int)gid);
        }

        listener.Listen(64);
        var server = new ControlServer(listener, handler, policy, requestTimeout ?? DefaultRequestTimeout);
        server._acceptLoop = server.AcceptLoopAsync();
        return server;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        if (_acceptLoop is not null)
        {
            await _acceptLoop.ConfigureAwait(false);
        }

        _stop.Dispose();
        _slots.Dispose();
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "chown", SetLastError = true)]
    private static extern int NativeChown(string path, int owner, int group);

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                await _slots.WaitAsync(_stop.Token).ConfigureAwait(false);
                client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        try
        {
            using (client)
            {
                var peer = PeerCredentials.Of(client) ?? new PeerCredentials(-1, uint.MaxValue, uint.MaxValue);
                using var stream = new NetworkStream(client, ownsSocket: false);
                var buffer = new byte[4096];
                var line = new MemoryStream();
                while (!_stop.IsCancellationRequested)
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                    timeout.CancelAfter(_requestTimeout);
                    var request = await ReadLineAsync(stream, buffer, line, timeout.Token).ConfigureAwait(false);
                    if (request is null)
                    {
                        return;
                    }

                    var response = await AnswerAsync(request, peer).ConfigureAwait(false);
                    var bytes = Encoding.UTF8.GetBytes(ControlProtocol.Format(response) + "\n");
                    await stream.WriteAsync(bytes, _stop.Token).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A client that went away, hung past the timeout or sent too much is dropped; others go on.
        }
        finally
        {
            _slots.Release();
        }
    }

    private async Task<ControlResponse> AnswerAsync(string line, PeerCredentials peer)
    {
        if (!ControlProtocol.TryParseRequest(line, out var request, out var error))
        {
            return ControlResponse.Failure(error!);
        }

        if (ControlProtocol.WriteCommands.Contains(request!.Command) && !_policy.MayWrite(peer))
        {
            return ControlResponse.Failure($"permission denied: '{request.Command}' changes the daemon; only root and members of the shaper group may send it");
        }

        try
        {
            return await _handler(request, peer, _stop.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return ControlResponse.Failure($"{request.Command} failed: {e.Message}");
        }
    }

    /// <summary>Reads up to a newline; null at end of stream; throws IOException past the size limit.</summary>
    private static async Task<string?> ReadLineAsync(NetworkStream stream, byte[] buffer, MemoryStream line, CancellationToken cancel)
    {
        while (true)
        {
            var data = line.GetBuffer().AsSpan(0, (int)line.Length);
            var newline = data.IndexOf((byte)'\n');
            if (newline >= 0)
            {
                var text = Encoding.UTF8.GetString(data[..newline]).TrimEnd('\r');
                var rest = data[(newline + 1)..].ToArray();
                line.SetLength(0);
                line.Write(rest);
                return text;
            }

            if (line.Length > ControlProtocol.MaxRequestBytes)
            {
                throw new IOException("request too large");
            }

            var read = await stream.ReadAsync(buffer, cancel).ConfigureAwait(false);
            if (read == 0)
            {
                return null;
            }

            line.Write(buffer, 0, read);
        }
    }
}
