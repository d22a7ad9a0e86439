using System.Diagnostics;
using System.Globalization;

namespace Shaper.Benchmarks;

/// <summary>
/// <c>perf record -g</c> and <c>perf stat</c> (context switches, CPU migrations, cycles, instructions) attached to a
/// process for one measured run, written to DIR/perf-LABEL.data and DIR/perf-LABEL.stat, and optionally the scheduler's
/// switches and wake-ups on every CPU (DIR/sched-LABEL.data, for <c>perf sched timehist</c>). JIT-compiled frames
/// resolve when the process runs with DOTNET_PerfMapEnabled=1 (its /tmp/perf-PID.map).
/// </summary>
internal sealed class PerfRecording : IDisposable
{
    private readonly Process[] _processes;

    private PerfRecording(Process[] processes) => _processes = processes;

    /// <summary>Starts both on <paramref name="pid"/> (and the scheduler's record with <paramref name="sched"/>); null when <paramref name="directory"/> is null.</summary>
    public static PerfRecording? Start(string? directory, int pid, string label, bool sched = false)
    {
        if (directory is null)
        {
            return null;
        }

        Directory.CreateDirectory(directory);
        var name = Path.Combine(directory, "perf-" + label);
        var p = pid.ToString(CultureInfo.InvariantCulture);
        var record = Launch(["record", "-g", "-k", "1", "-F", "9999", "-p", p, "-o", name + ".data"]);
        var stat = Launch(["stat", "--per-thread", "-e", "task-clock,context-switches,cpu-migrations,page-faults", "-p", p, "-o", name + ".stat"]);
        Process[] processes = sched
            ? [record, stat, Launch(["sched", "record", "-o", Path.Combine(directory, "sched-" + label + ".data")])]
            : [record, stat];
        Thread.Sleep(sched ? 2000 : 300); // perf sched record takes over a second to attach to every CPU here
        return new PerfRecording(processes);
    }

    /// <summary>Ends both (SIGINT, as perf expects) and waits for their files.</summary>
    public void Stop()
    {
        foreach (var process in _processes)
        {
            if (!process.HasExited)
            {
                Shaper.Tests.Lab.Run.Command("kill", ["-INT", process.Id.ToString(CultureInfo.InvariantCulture)]);
            }
        }

        foreach (var process in _processes)
        {
            process.WaitForExit(10_000);
        }
    }

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            if (!process.HasExited)
            {
                process.Kill();
            }

            process.Dispose();
        }
    }

    private static Process Launch(string[] args)
    {
        var start = new ProcessStartInfo("perf") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start)!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}
