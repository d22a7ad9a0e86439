using System.Diagnostics;

namespace Shaper.Firewall;

/// <summary>iptables-restore and iptables-save (and their ip6tables twins) as processes.</summary>
public sealed class IptablesProcess : IIptablesRunner
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <inheritdoc />
    public NftResult Restore(bool v4, string script, bool test = false) =>
        Run(v4 ? "iptables-restore" : "ip6tables-restore", test ? ["-w", "5", "--noflush", "--test"] : ["-w", "5", "--noflush"], script);

    /// <inheritdoc />
    public NftResult Save(bool v4, bool counters = false) =>
        Run(v4 ? "iptables-save" : "ip6tables-save", counters ? ["-t", "filter", "-c"] : ["-t", "filter"], null);

    private static NftResult Run(string program, string[] args, string? stdin)
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

        try
        {
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (stdin is not null)
            {
                process.StandardInput.Write(stdin);
                process.StandardInput.Close();
            }

            if (!process.WaitForExit(Deadline))
            {
                process.Kill();
                return new NftResult(false, "", $"{program} did not finish within {Deadline.TotalSeconds} s");
            }

            return new NftResult(process.ExitCode == 0, output.Result, error.Result.Length > 0 ? error.Result : process.ExitCode == 0 ? "" : $"{program} failed ({process.ExitCode})");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return new NftResult(false, "", $"cannot run {program}: {e.Message}");
        }
    }
}
