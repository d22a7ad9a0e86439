using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Shaper.Tests.Lab;

namespace Shaper.Tests.Daemon;

/// <summary>
/// shaperd's sd_notify conversation, through the real Microsoft.Extensions.Hosting.Systemd: READY=1 only once
/// the kernel table is in place and capture runs, STATUS= lines before it, WATCHDOG=1 at half WatchdogSec,
/// STOPPING=1 on SIGTERM, then an exit within 5 s while capture idles (it used to hang in pcap's poll).
/// The hosting library speaks to systemd only when the process's parent is named <c>systemd</c>, so the
/// daemon is started by a copy of bash under that name, with NOTIFY_SOCKET on a socket of the test.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class SystemdNotifyTests
{
    [RootFact]
    public void Start_UnderSystemd_ReadyOnlyOnceTheTableIsInAndCaptureRuns()
    {
        using var lab = NetworkLab.Create();
        var directory = Directory.CreateTempSubdirectory("shaper-notify-").FullName;
        try
        {
            var notifyPath = Path.Combine(directory, "notify");
            using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            notify.Bind(new UnixDomainSocketEndPoint(notifyPath));
            notify.ReceiveTimeout = 30_000;
            var config = Path.Combine(directory, "shaper.toml");
            File.WriteAllText(config, $$"""
                [daemon]
                interface = "{{NetworkLab.ReceiverInterface}}"
                socket = "{{directory}}/shaperd.sock"
                state_dir = "{{directory}}/state"
                metrics = ""

                [[rule]]
                name = "ssh-new"
                match = { proto = "tcp", dport = [22], syn = true }
                rate = "10/minute"
                burst = 5

                [[rule]]
                name = "udp-watch"
                match = { proto = "udp", dport = [9000] }
                rate = "10/s"
                burst = 20
                enforce = "observe"
                action = "log"
                """);
            var fakeSystemd = Path.Combine(directory, "systemd");
            File.Copy("/bin/bash", fakeSystemd);
            var shaperd = Shaperd.Dll;
            var start = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { "netns", "exec", lab.B, fakeSystemd, "-c", $"dotnet {shaperd} --config {config} & echo $! > {directory}/pid; wait" })
            {
                start.ArgumentList.Add(arg);
            }

            start.Environment["NOTIFY_SOCKET"] = notifyPath;
            start.Environment["WATCHDOG_USEC"] = "400000";
            using var wrapper = Process.Start(start)!;
            var log = new StringBuilder();
            wrapper.OutputDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
            wrapper.ErrorDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
            wrapper.BeginOutputReadLine();
            wrapper.BeginErrorReadLine();
            try
            {
                var before = new List<string>();
                string message;
                do
                {
                    message = Receive(notify);
                    before.Add(message);
                }
                while (!message.Contains("READY=1", StringComparison.Ordinal));

                // At READY=1 the table is already in the kernel and the daemon is capturing.
                var table = lab.Exec(lab.B, "nft", "list", "table", "inet", "shaper");
                Assert.True(table.ExitCode == 0, "READY=1 came before the table: " + table.Error);
                Assert.Contains("m_ssh-new_v4", table.Output, StringComparison.Ordinal);
                var status = Run.Command("ip", ["netns", "exec", lab.B, "dotnet", Path.Combine(AppContext.BaseDirectory, "shaperctl.dll"), "--socket", $"{directory}/shaperd.sock", "--json", "status"]);
                Assert.Contains("\"capture\":\"vb\"", status.Output.Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
                Assert.Contains(before, m => m.Contains("STATUS=applying the kernel ruleset", StringComparison.Ordinal));

                // WatchdogSec=0.4 s: pings every 0.2 s.
                var pings = 0;
                var watch = Stopwatch.StartNew();
                while (pings < 2 && watch.Elapsed < TimeSpan.FromSeconds(5))
                {
                    pings += Receive(notify).Contains("WATCHDOG=1", StringComparison.Ordinal) ? 1 : 0;
                }

                Assert.Equal(2, pings);

                var stopping = Stopwatch.StartNew();
                Run.Command("kill", ["-TERM", File.ReadAllText(Path.Combine(directory, "pid")).Trim()]).EnsureSuccess("kill -TERM shaperd");
                var after = new List<string>();
                do
                {
                    message = Receive(notify);
                    after.Add(message);
                }
                while (!message.Contains("STOPPING=1", StringComparison.Ordinal));

                // Keep reading, as systemd does: a full notify socket would block the daemon's next send.
                notify.ReceiveTimeout = 200;
                var drain = Task.Run(() =>
                {
                    while (!wrapper.HasExited)
                    {
                        try
                        {
                            after.Add(Receive(notify));
                        }
                        catch (SocketException)
                        {
                        }
                    }
                });

                Assert.True(wrapper.WaitForExit(10_000), "shaperd (capturing, no traffic) did not stop within 10 s of SIGTERM: " + log + string.Join(" | ", after));
                Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(5), $"SIGTERM to exit took {stopping.Elapsed.TotalSeconds:F1} s, capture running");
                drain.Wait();
            }
            finally
            {
                if (!wrapper.HasExited)
                {
                    wrapper.Kill(entireProcessTree: true);
                }
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static string Receive(Socket socket)
    {
        var buffer = new byte[4096];
        var n = socket.Receive(buffer);
        return Encoding.UTF8.GetString(buffer, 0, n);
    }
}
