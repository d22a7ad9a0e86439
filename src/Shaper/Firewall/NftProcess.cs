using System.Diagnostics;

namespace Shaper.Firewall;

/// <summary>nft as a process (<c>nft [-c] -f -</c>), for hosts without libnftables and as the benchmark's baseline.</summary>
public sealed class NftProcess(string nftPath = "nft") : INftRunner
{
    /// <inheritdoc />
    public NftResult Run(string script, bool check = false)
    {
        var start = new ProcessStartInfo(nftPath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (check)
        {
            start.ArgumentList.Add("-c");
        }

        start.ArgumentList.Add("-f");
        start.ArgumentList.Add("-");
        try
        {
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            process.StandardInput.Write(script);
            process.StandardInput.Close();
            if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                process.Kill();
                return new NftResult(false, "", "nft did not finish within 30 s");
            }

            return new NftResult(process.ExitCode == 0, output.Result, error.Result);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return new NftResult(false, "", $"cannot run {nftPath}: {e.Message}");
        }
    }
}
