using System.Diagnostics;
using System.Globalization;

namespace Shaper.Tests.Lab;

/// <summary>
/// tcpdump on the sender's veth, writing what leaves it (matching a tcpdump <c>filter</c>) with nanosecond timestamps,
/// so a test can replay what was really sent, when it was sent; stopped (and flushed) on dispose. With
/// <c>onReceiver</c>, the same on the receiver's veth: what arrived, with the kernel's arrival timestamps.
/// </summary>
public sealed class SenderCapture : IDisposable
{
    private readonly Process _process;

    private SenderCapture(Process process) => _process = process;

    public static SenderCapture Start(NetworkLab lab, string path, string filter = "udp and dst port 9000", bool onReceiver = false)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { "netns", "exec", onReceiver ? lab.B : lab.A, "tcpdump", "-i", onReceiver ? NetworkLab.ReceiverInterface : "va", "-n", "--immediate-mode", "-B", "65536", "--time-stamp-precision=nano", "-w", path, filter })
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start)!;
        var ready = new TaskCompletionSource();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("listening on", StringComparison.Ordinal) == true)
            {
                ready.TrySetResult();
            }
        };
        process.BeginErrorReadLine();
        if (!ready.Task.Wait(TimeSpan.FromSeconds(10)))
        {
            process.Kill();
            throw new TimeoutException("tcpdump did not start listening");
        }

        return new SenderCapture(process);
    }

    public void Dispose()
    {
        Run.Command("kill", ["-INT", _process.Id.ToString(CultureInfo.InvariantCulture)]);
        if (!_process.WaitForExit(TimeSpan.FromSeconds(10)))
        {
            _process.Kill();
        }

        _process.Dispose();
    }
}
