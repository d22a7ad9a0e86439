using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Shaper.Tests.Lab;

/// <summary>
/// A redis-server of the test's own, on loopback at a free port, with no persistence (<c>--save "" --appendonly no</c>)
/// in a temporary directory; never the system's Redis service. It can be killed, started again on the same port,
/// and stopped (SIGSTOP) and continued, as the fault tests need. Disposing kills it and removes its directory.
/// </summary>
public sealed class RedisServer : IDisposable
{
    private readonly string _dir;
    private readonly string[] _extra;
    private readonly string? _namespace;
    private Process? _process;

    private RedisServer(int port, string dir, string[] extra, string? ns)
    {
        Port = port;
        _dir = dir;
        _extra = extra;
        _namespace = ns;
    }

    public static bool IsInstalled => File.Exists("/usr/bin/redis-server") && File.Exists("/usr/bin/redis-cli");

    public int Port { get; }

    public string Endpoint => $"127.0.0.1:{Port}";

    public string Directory => _dir;

    /// <summary>Starts a server with <paramref name="extra"/> arguments (e.g. <c>--cluster-enabled yes</c>) and waits until it answers PING.</summary>
    public static RedisServer Start(params string[] extra)
    {
        var dir = System.IO.Directory.CreateTempSubdirectory("shaper-redis-").FullName;
        var server = new RedisServer(FreePort(), dir, extra, null);
        server.Launch();
        return server;
    }

    /// <summary>Starts a server inside network namespace <paramref name="ns"/> at <paramref name="port"/> (loopback, unless <paramref name="extra"/> binds elsewhere).</summary>
    public static RedisServer StartIn(string ns, int port = 6379, params string[] extra)
    {
        var dir = System.IO.Directory.CreateTempSubdirectory("shaper-redis-").FullName;
        var server = new RedisServer(port, dir, extra, ns);
        server.Launch();
        return server;
    }

    /// <summary>Kills the server (SIGKILL): connections drop at once.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            process.WaitForExit();
        }
    }

    /// <summary>Starts the killed server again on the same port, empty.</summary>
    public void Restart() => Launch();

    /// <summary>Stops the server (SIGSTOP): connections stay open and nothing answers.</summary>
    public void Pause() => Signal("STOP");

    /// <summary>Continues a stopped server (SIGCONT).</summary>
    public void Resume() => Signal("CONT");

    /// <summary>Runs redis-cli against the server and returns its output.</summary>
    public string Cli(params string[] args)
    {
        string[] cli = ["redis-cli", "-h", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. args];
        var result = _namespace is null
            ? Run.Command(cli[0], cli[1..], timeout: TimeSpan.FromSeconds(30))
            : Run.Command("ip", ["netns", "exec", _namespace, .. cli], timeout: TimeSpan.FromSeconds(30));
        return result.Output;
    }

    /// <summary>The calls of each command since the last CONFIG RESETSTAT, from INFO commandstats.</summary>
    public Dictionary<string, long> CommandCalls()
    {
        var calls = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in Cli("INFO", "commandstats").Split('\n'))
        {
            // cmdstat_evalsha:calls=12,usec=...
            if (!line.StartsWith("cmdstat_", StringComparison.Ordinal))
            {
                continue;
            }

            var name = line["cmdstat_".Length..line.IndexOf(':', StringComparison.Ordinal)];
            var field = line[(line.IndexOf("calls=", StringComparison.Ordinal) + 6)..];
            calls[name] = long.Parse(field[..field.IndexOf(',', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture);
        }

        return calls;
    }

    public void Dispose()
    {
        if (_process is { HasExited: false })
        {
            Signal("CONT");
        }

        Kill();
        _process?.Dispose();
        try
        {
            System.IO.Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private void Launch()
    {
        var start = new ProcessStartInfo(_namespace is null ? "redis-server" : "ip")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _dir,
        };
        foreach (var arg in (string[])[.. _namespace is null ? [] : (string[])["netns", "exec", _namespace, "redis-server"], "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", _dir, "--daemonize", "no", .. _extra])
        {
            start.ArgumentList.Add(arg);
        }

        _process?.Dispose();
        _process = Process.Start(start) ?? throw new InvalidOperationException("cannot start redis-server");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        // Waits for the process to listen (bounded: 10 s), not for time to pass.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"redis-server exited with {_process.ExitCode} at start");
            }

            try
            {
                if (_namespace is null)
                {
                    using var client = new TcpClient();
                    client.Connect(IPAddress.Loopback, Port);
                }

                if (Cli("PING").Trim() == "PONG")
                {
                    return;
                }
            }
            catch (SocketException)
            {
            }

            Thread.Sleep(20);
        }

        throw new TimeoutException($"redis-server on port {Port} did not answer PING within 10 s");
    }

    private void Signal(string signal)
    {
        if (_process is { HasExited: false } process)
        {
            Run.Command("kill", [$"-{signal}", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
