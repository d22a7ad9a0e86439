using System.Diagnostics;

namespace Shaper.Firewall;

/// <summary>Runs a program to completion with a deadline: its exit, output and error text as an <see cref="NftResult"/>.</summary>
internal static class ProcessCommand
{
    public static NftResult Run(string program, IEnumerable<string> args, string? stdin = null, TimeSpan? deadline = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = stdin is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var limit = deadline ?? TimeSpan.FromSeconds(30);
        try
        {
            using var process = Process.Start(start)!;
            // Disposed here: a process closes the redirected streams it handed out only when they were never read, so
            // each run would otherwise leave two pipes open until a garbage collection finalised them.
            using var stdout = process.StandardOutput;
            using var stderr = process.StandardError;
            var output = stdout.ReadToEndAsync();
            var error = stderr.ReadToEndAsync();
            if (stdin is not null)
            {
                try
                {
                    process.StandardInput.Write(stdin);
                    process.StandardInput.Close();
                }
                catch (IOException)
                {
                    // The program ended (or closed its input) without reading all of it: its exit status and error
                    // text below say why, as for any other failure.
                }
            }

            if (!process.WaitForExit(limit))
            {
                process.Kill(entireProcessTree: true);
                return new NftResult(false, "", $"{program} did not finish within {limit.TotalSeconds} s");
            }

            process.WaitForExit();
            var text = error.Result.Length > 0 || process.ExitCode == 0 ? error.Result : $"{program} failed ({process.ExitCode})";
            return new NftResult(process.ExitCode == 0, output.Result, text);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return new NftResult(false, "", e.NativeErrorCode == 2 ? $"{program} is not installed (not on PATH)" : $"cannot run {program}: {e.Message}");
        }
    }
}
