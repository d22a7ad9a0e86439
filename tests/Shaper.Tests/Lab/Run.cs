using System.Diagnostics;

namespace Shaper.Tests.Lab;

/// <summary>Runs a program to completion with a deadline.</summary>
public static class Run
{
    public static ProcessResult Command(string program, IEnumerable<string> args, string? stdin = null, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {program}");
        // Disposed here: a process closes the redirected streams it handed out only when they were never read, so
        // each run would otherwise leave two pipes open until a garbage collection finalised them.
        using var stdout = process.StandardOutput;
        using var stderr = process.StandardError;
        var output = stdout.ReadToEndAsync();
        var error = stderr.ReadToEndAsync();
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }

        if (!process.WaitForExit(timeout ?? TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish in time");
        }

        process.WaitForExit();
        return new ProcessResult(process.ExitCode, output.Result, error.Result);
    }
}
