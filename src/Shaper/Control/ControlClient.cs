using System.Net.Sockets;
using System.Text;
using Shaper.Resilience;

namespace Shaper.Control;

/// <summary>
/// Sends one request to the daemon's control socket. Connection failures are retried with capped
/// exponential backoff and full jitter (DOMAIN.md §3: <c>sleep = rand(0, min(cap, base × 2^attempt))</c>)
/// for a bounded number of attempts; every call has an overall timeout.
/// </summary>
public sealed class ControlClient(string socketPath, TimeSpan timeout, int maxAttempts = 4)
{
    private static readonly TimeSpan BackoffBase = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan BackoffCap = TimeSpan.FromSeconds(1);

    /// <summary>Sends <paramref name="request"/> and returns the response; a failure response says why in one line.</summary>
    public async Task<ControlResponse> SendAsync(ControlRequest request, CancellationToken cancel = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(timeout);
        SocketException? last = null;
        for (var attempt = 0; attempt < maxAttempts; attempt++)
        {
            if (attempt > 0)
            {
                await Task.Delay(Backoff.FullJitter(attempt - 1, BackoffBase, BackoffCap, Random.Shared), deadline.Token).ConfigureAwait(false);
            }

            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), deadline.Token).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                last = e;
                continue;
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                return ControlResponse.Failure($"timed out after {timeout.TotalSeconds:0.#} s connecting to {socketPath}");
            }

            try
            {
                return await ExchangeAsync(socket, request, deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                return ControlResponse.Failure($"the daemon did not answer within {timeout.TotalSeconds:0.#} s");
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                return ControlResponse.Failure($"the connection to the daemon broke: {e.Message}");
            }
        }

        return ControlResponse.Failure(last?.SocketErrorCode switch
        {
            SocketError.AddressNotAvailable or SocketError.ConnectionRefused =>
                $"shaperd is not running (nothing listens on {socketPath})",
            SocketError.AccessDenied => $"permission denied opening {socketPath} (join the shaper group)",
            _ => $"cannot reach shaperd at {socketPath}: {last?.Message}",
        });
    }

    private static async Task<ControlResponse> ExchangeAsync(Socket socket, ControlRequest request, CancellationToken cancel)
    {
        using var stream = new NetworkStream(socket, ownsSocket: false);
        await stream.WriteAsync(Encoding.UTF8.GetBytes(ControlProtocol.Format(request) + "\n"), cancel).ConfigureAwait(false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var line = await reader.ReadLineAsync(cancel).ConfigureAwait(false);
        return line is null
            ? ControlResponse.Failure("the daemon closed the connection without answering")
            : ControlProtocol.ParseResponse(line);
    }
}
