using System.Diagnostics;
using System.Text.Json.Nodes;
using Shaper.Control;

namespace Shaper.Tests.Lab;

/// <summary>
/// shaperd running in a lab namespace with a test configuration: started with <c>ip netns exec</c>, ready
/// once its control socket answers, stopped with SIGTERM. Its log is kept for failure messages.
/// </summary>
public sealed class DaemonProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<(long At, string Line)> _lines = []; // each output line with when it arrived

    private readonly bool _ownsDirectory;

    private DaemonProcess(Process process, string directory, string socket, bool ownsDirectory)
    {
        _process = process;
        Directory = directory;
        Socket = socket;
        _ownsDirectory = ownsDirectory;
    }

    public string Directory { get; }

    public string Socket { get; }

    public int Pid => _process.Id;

    public string Log
    {
        get
        {
            lock (_lines)
            {
                return string.Concat(_lines.Select(l => l.Line + Environment.NewLine));
            }
        }
    }

    /// <summary>
    /// When the first line holding <paramref name="text"/> reached this process (a <see cref="Stopwatch"/> timestamp:
    /// read as it comes, a little after the daemon logged it); null if none has.
    /// </summary>
    public long? ArrivalOf(string text)
    {
        lock (_lines)
        {
            foreach (var (at, line) in _lines)
            {
                if (line.Contains(text, StringComparison.Ordinal))
                {
                    return at;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// Waits up to <paramref name="seconds"/> for the daemon to have logged <paramref name="line"/>: its output is read
    /// as it comes, and the logger writes a little after the event (a status may already show what it logs).
    /// </summary>
    public async Task WaitForLogAsync(string line, int seconds = 10)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (!Log.Contains(line, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"the daemon did not log '{line}' within {seconds} s: {Log}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>How <paramref name="program"/> runs: a .dll with <c>dotnet</c>, a published program as it is.</summary>
    private static string[] Command(string program) =>
        program.EndsWith(".dll", StringComparison.Ordinal) ? ["dotnet", program] : [program];

    /// <summary>
    /// Starts shaperd in <paramref name="ns"/> with <paramref name="config"/>, whose [daemon] table this fills in;
    /// <paramref name="wrapper"/> is a command prefix (e.g. <see cref="UnitSandbox.Wrapper"/>), <paramref name="path"/> a PATH.
    /// With <paramref name="directory"/> (the caller's, kept on dispose) a restart finds the state the last run left in
    /// <c>directory/state</c>. <paramref name="metrics"/> is the Prometheus endpoint's address ("" = off).
    /// <paramref name="dll"/> is the shaperd to run (<see cref="Shaperd.Dll"/> by default, see <see cref="Shaperd"/>): a
    /// .dll runs with <c>dotnet</c>, a published program as it is.
    /// </summary>
    public static DaemonProcess Start(string ns, string config, string daemonTable = "", string[]? wrapper = null, string? path = null, string? directory = null, string metrics = "", string? dll = null)
    {
        var owns = directory is null;
        directory ??= System.IO.Directory.CreateTempSubdirectory("shaper-lab-").FullName;
        var socket = Path.Combine(directory, "shaperd.sock");
        var file = Path.Combine(directory, "shaper.toml");
        File.WriteAllText(file, $"[daemon]\nsocket = \"{socket}\"\nstate_dir = \"{directory}/state\"\nmetrics = \"{metrics}\"\n{daemonTable}\n{config}");
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "netns", "exec", ns }.Concat(wrapper ?? []).Concat(Command(dll ?? Shaperd.Dll)).Concat(["--config", file]))
        {
            start.ArgumentList.Add(arg);
        }

        if (path is not null)
        {
            start.Environment["PATH"] = path;
        }

        var process = Process.Start(start)!;
        var daemon = new DaemonProcess(process, directory, socket, owns);
        process.OutputDataReceived += (_, e) => daemon.Append(e.Data);
        process.ErrorDataReceived += (_, e) => daemon.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (process.HasExited)
            {
                // Its last lines (why it did not start) reach the readers after the exit: wait for the streams' end.
                process.WaitForExit();
                throw new InvalidOperationException($"shaperd exited with {process.ExitCode}: {daemon.Log}");
            }

            if (File.Exists(socket) && daemon.SendAsync("status").GetAwaiter().GetResult().Ok)
            {
                return daemon;
            }

            // Finely enough that the time a test measures to ready is the daemon's, not this poll's.
            Thread.Sleep(10);
        }

        daemon.Dispose();
        throw new TimeoutException("shaperd did not become ready in 30 s: " + daemon.Log);
    }

    public Task<ControlResponse> SendAsync(string command, JsonObject? args = null) =>
        new ControlClient(Socket, TimeSpan.FromSeconds(10), maxAttempts: 1).SendAsync(new ControlRequest(ControlProtocol.Version, command, args ?? []));

    /// <summary>The daemon's peak resident memory so far (VmHWM), in bytes.</summary>
    public long PeakRssBytes() => StatusKb("VmHWM:") * 1024;

    /// <summary>The daemon's resident memory now (VmRSS), in bytes.</summary>
    public long RssBytes() => StatusKb("VmRSS:") * 1024;

    /// <summary>Whether the daemon has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The exit status once the daemon has exited (after <see cref="Stop"/> or <see cref="Kill"/>).</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Ends the daemon with SIGKILL (no chance to save anything) and waits for it to be gone.</summary>
    public void Kill()
    {
        Run.Command("kill", ["-KILL", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        _process.WaitForExit();
    }

    /// <summary>Stops with SIGTERM and returns how long the daemon took to exit.</summary>
    public TimeSpan Stop()
    {
        if (_process.HasExited)
        {
            return TimeSpan.Zero;
        }

        var watch = Stopwatch.StartNew();
        Run.Command("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        if (!_process.WaitForExit(TimeSpan.FromSeconds(15)))
        {
            _process.Kill(entireProcessTree: true);
        }

        var elapsed = watch.Elapsed;
        // The timed overload returns before the redirected output is drained; the untimed one waits for it,
        // so the last lines the daemon wrote while stopping are in Log.
        _process.WaitForExit();
        return elapsed;
    }

    public void Dispose()
    {
        Stop();
        _process.Dispose();
        if (!_ownsDirectory)
        {
            return;
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private long StatusKb(string field)
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
        {
            if (line.StartsWith(field, StringComparison.Ordinal))
            {
                return long.Parse(line[field.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            var at = Stopwatch.GetTimestamp();
            lock (_lines)
            {
                _lines.Add((at, line));
            }
        }
    }
}
