using System.Net;
using System.Text;
using Shaper.Metrics;

namespace Shaper.Daemon;

/// <summary>Serves <c>GET /metrics</c> in the Prometheus text format on <c>[daemon].metrics</c> (host:port).</summary>
internal sealed class MetricsServer : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<PrometheusWriter> _collect;
    private readonly Task _loop;

    private MetricsServer(string endpoint, Func<PrometheusWriter> collect)
    {
        _collect = collect;
        var (host, port) = Split(endpoint);
        _listener.Prefixes.Add($"http://{host}:{port}/");
        _listener.Start();
        _loop = ServeAsync();
    }

    /// <summary>Starts serving <paramref name="endpoint"/>.</summary>
    public static MetricsServer Start(string endpoint, Func<PrometheusWriter> collect) => new(endpoint, collect);

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }

    private static (string Host, int Port) Split(string endpoint)
    {
        var colon = endpoint.LastIndexOf(':');
        var host = endpoint[..colon].Trim('[', ']');
        return (host.Contains(':') ? $"[{host}]" : host, int.Parse(endpoint[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var response = context.Response;
            if (context.Request.HttpMethod != "GET" || context.Request.Url?.AbsolutePath is not ("/metrics" or "/"))
            {
                response.StatusCode = 404;
                continue;
            }

            var body = Encoding.UTF8.GetBytes(_collect().ToString());
            response.ContentType = PrometheusWriter.ContentType;
            response.ContentLength64 = body.Length;
            await response.OutputStream.WriteAsync(body).ConfigureAwait(false);
        }
    }
}
