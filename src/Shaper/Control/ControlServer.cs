using System.Net.Sockets;
using System.Text;

using Shaper.Interop;

namespace Shaper.Control;

/// <summary>
/// Serves the control socket: accepts connections, reads one request per line (at most
/// <see cref="ControlProtocol.MaxRequestBytes"/>), checks write commands against <see cref="AccessPolicy"/>
/// using the peer's <c>SO_PEERCRED</c>, and answers one line per request. No client can stall another:
/// <list type="bullet">
/// <item>each connection is served on its own, so a client that is idle or slow holds no capacity others need;</item>
/// <item>pipelining is bounded: a connection's requests are answered one at a time, in order, and the next is
/// read only once the previous reply is written, so unread requests stay in the client's socket buffer;</item>
/// <item>a reply that cannot be written within the write timeout (a client that pipelines and never reads)
/// drops that client, and a request line that does not arrive within the request timeout (an idle client)
/// does too;</item>
/// <item>at most <see cref="MaxConnections"/> are open at once; a new one beyond that drops the client that
/// made progress least recently, so a flood of idle connections cannot lock out the operator.</item>
/// </list>
/// A client that sends garbage gets an error line and may go on.
/// </summary>
public sealed class ControlServer : IAsyncDisposable
{
    /// <summary>How long a client may take to send one request line, unless the caller says otherwise.</summary>
    public static readonly TimeSpan DefaultRequestTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long a reply may wait for the client to read it before the client is dropped.</summary>
    public static readonly TimeSpan DefaultWriteTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Connections open at once; a new one beyond this drops the stalest.</summary>
    public const int MaxConnections = 256;

    private readonly Socket _listener;
    private readonly Func<ControlRequest, PeerCredentials, CancellationToken, Task<ControlResponse>> _handler;
    private readonly AccessPolicy _policy;
    private readonly CancellationTokenSource _stop = new();
    private readonly TimeSpan _requestTimeout;
    private readonly TimeSpan _writeTimeout;
    private readonly TimeProvider _time;

    // Taken on accept and when a connection ends, never per request: the set is what eviction chooses from.
    private readonly Lock _gate = new();
    private readonly HashSet<ControlConnection> _connections = [];
    private Task? _acceptLoop;
    private long _writeTimeouts;
    private long _evictions;

    private ControlServer(
        Socket listener,
        Func<ControlRequest, PeerCredentials, CancellationToken, Task<ControlResponse>> handler,
        AccessPolicy policy,
        TimeSpan requestTimeout,
        TimeSpan writeTimeout,
        TimeProvider time)
    {
        _requestTimeout = requestTimeout;
        _writeTimeout = writeTimeout;
        _listener = listener;
        _handler = handler;
        _policy = policy;
        _time = time;
    }

    /// <summary>Connections open now.</summary>
    public int Connections
    {
        get
        {
            lock (_gate)
            {
                return _connections.Count;
            }
        }
    }

    /// <summary>Clients dropped so far because they did not read a reply within the write timeout.</summary>
    public long WriteTimeouts => Interlocked.Read(ref _writeTimeouts);

    /// <summary>Clients dropped so far to make room for a new connection.</summary>
    public long Evictions => Interlocked.Read(ref _evictions);

    /// <summary>
    /// Binds <paramref name="path"/> (replacing a stale socket file), sets mode 0660 and, when the policy's
    /// group exists, that group, then starts serving. The caller makes sure no other server owns the path
    /// (shaperd holds its instance lock first).
    /// </summary>
    public static ControlServer Start(
        string path,
        Func<ControlRequest, PeerCredentials, CancellationToken, Task<ControlResponse>> handler,
        AccessPolicy policy,
        TimeSpan? requestTimeout = null,
        TimeSpan? writeTimeout = null,
        TimeProvider? time = null)
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
            _ = LibC.Chown(path, -1, (int)gid);
        }

        listener.Listen(MaxConnections);
        var server = new ControlServer(listener, handler, policy, requestTimeout ?? DefaultRequestTimeout, writeTimeout ?? DefaultWriteTimeout, time ?? TimeProvider.System);
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
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            var connection = new ControlConnection(client, _time.GetTimestamp(), _stop.Token);
            ControlConnection? stalest = null;
            lock (_gate)
            {
                if (_connections.Count >= MaxConnections)
                {
                    foreach (var open in _connections)
                    {
                        if (stalest is null || open.LastProgress < stalest.LastProgress)
                        {
                            stalest = open;
                        }
                    }

                    _connections.Remove(stalest!);
                }

                _connections.Add(connection);
            }

            if (stalest is not null)
            {
                Interlocked.Increment(ref _evictions);
                stalest.Drop();
            }

            // On the thread pool, not inline: a client whose pipelined requests are already buffered would otherwise
            // be answered on this loop, and nobody else accepted meanwhile.
            _ = Task.Run(() => ServeAsync(connection));
        }
    }

    private async Task ServeAsync(ControlConnection connection)
    {
        try
        {
            var peer = PeerCredentials.Of(connection.Socket) ?? new PeerCredentials(-1, uint.MaxValue, uint.MaxValue);
            using var stream = new NetworkStream(connection.Socket, ownsSocket: false);
            var buffer = new byte[4096];
            var line = new MemoryStream();
            while (!connection.Token.IsCancellationRequested)
            {
                string? request;
                using (var idle = new CancellationTokenSource(_requestTimeout, _time))
                using (var read = CancellationTokenSource.CreateLinkedTokenSource(connection.Token, idle.Token))
                {
                    request = await ReadLineAsync(stream, buffer, line, read.Token).ConfigureAwait(false);
                }

                if (request is null)
                {
                    return;
                }

                connection.Progress(_time.GetTimestamp());
                var response = await AnswerAsync(request, peer).ConfigureAwait(false);
                var bytes = Encoding.UTF8.GetBytes(ControlProtocol.Format(response) + "\n");
                using (var slow = new CancellationTokenSource(_writeTimeout, _time))
                using (var write = CancellationTokenSource.CreateLinkedTokenSource(connection.Token, slow.Token))
                {
                    try
                    {
                        await stream.WriteAsync(bytes, write.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (slow.IsCancellationRequested)
                    {
                        Interlocked.Increment(ref _writeTimeouts);
                        throw;
                    }
                }

                connection.Progress(_time.GetTimestamp());

                // One request, then the back of the queue: a client with many requests buffered takes turns with
                // the others instead of being answered all at once.
                await Task.Yield();
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A client that went away, idled or stalled past a timeout, sent too much or was evicted is dropped; others go on.
        }
        finally
        {
            lock (_gate)
            {
                _connections.Remove(connection);
            }

            connection.Dispose();
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
