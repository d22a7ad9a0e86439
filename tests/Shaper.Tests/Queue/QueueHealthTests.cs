using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Queue;

/// <summary>
/// A queue whose thread stopped serving it is seen and restarts the daemon: shaperd runs as systemd would run it (a
/// parent named <c>systemd</c>, NOTIFY_SOCKET and WATCHDOG_USEC on a socket of the test, as in SystemdNotifyTests), and
/// its NFQUEUE queue is unbound under it through its own socket (<see cref="QueueUnbinder"/>), against the real kernel in
/// a namespace lab.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class QueueHealthTests(ITestOutputHelper output)
{
    [RootFact]
    public async Task QueueUnboundUnderTheDaemon_StatusMetricsAndWatchdogSaySo_ReloadServesItAgain()
    {
        using var lab = NetworkLab.Create();
        var directory = Directory.CreateTempSubdirectory("shaper-queue-health-").FullName;
        try
        {
            var notifyPath = Path.Combine(directory, "notify");
            using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            notify.Bind(new UnixDomainSocketEndPoint(notifyPath));
            var fakeSystemd = Path.Combine(directory, "systemd");
            File.Copy("/bin/bash", fakeSystemd);

            // bash named systemd stays the daemon's parent (the hosting library speaks sd_notify only then) and hands it SIGTERM.
            string[] wrapper = ["env", $"NOTIFY_SOCKET={notifyPath}", "WATCHDOG_USEC=4000000", fakeSystemd, "-c", "trap 'kill -TERM $c; wait $c' TERM; \"$@\" & c=$!; wait $c", "systemd"];
            using var daemon = DaemonProcess.Start(lab.B, QueueAccuracyTests.RuleText(50, 25), wrapper: wrapper, directory: directory, metrics: MetricsPage.Address);
            var pid = int.Parse(File.ReadAllText($"/proc/{daemon.Pid}/task/{daemon.Pid}/children").Trim(), CultureInfo.InvariantCulture);

            // Healthy: pings at half WatchdogSec, the queue running.
            Assert.True(WaitFor(notify, m => m.Contains("WATCHDOG=1", StringComparison.Ordinal), TimeSpan.FromSeconds(15), out _), "no WATCHDOG=1 while healthy: " + daemon.Log);
            var queue = (await daemon.SendAsync("status")).Result!["queues"]!.AsArray().Single()!;
            Assert.Equal("running", (string)queue["state"]!);
            var page = MetricsPage.Fetch(lab);
            output.WriteLine(string.Join('\n', page.Split('\n').Where(l => l.StartsWith("shaper_queue", StringComparison.Ordinal))));
            Assert.Contains("shaper_queue_up{rule=\"udp-queue\",queue=\"1000\"} 1", page, StringComparison.Ordinal);

            QueueUnbinder.Unbind(pid, 1000);

            // The thread finds its queue gone within a second or so; the next probe (every 2 s: WatchdogSec=4 s, long
            // enough for a loaded host's threads to answer) stops the pings and says why.
            Assert.True(WaitFor(notify, m => m.Contains("STATUS=unhealthy: queue", StringComparison.Ordinal), TimeSpan.FromSeconds(20), out var unhealthy), "no STATUS=unhealthy after the queue was unbound: " + daemon.Log);
            output.WriteLine(unhealthy);
            Assert.Contains("queue rule 'udp-queue' (NFQUEUE 1000) has stopped: the kernel no longer has NFQUEUE 1000", unhealthy, StringComparison.Ordinal);
            Assert.False(WaitFor(notify, m => m.Contains("WATCHDOG=1", StringComparison.Ordinal), TimeSpan.FromSeconds(5), out var ping), $"a ping after the queue failed: {ping}");

            var status = (await daemon.SendAsync("status")).Result!;
            output.WriteLine(status.ToJsonString());
            queue = status["queues"]!.AsArray().Single()!;
            Assert.Equal("failed", (string)queue["state"]!);
            Assert.Contains("no longer has NFQUEUE 1000", (string)queue["error"]!, StringComparison.Ordinal);
            Assert.False((bool)status["engine_healthy"]!);
            Assert.Contains("shaper_queue_up{rule=\"udp-queue\",queue=\"1000\"} 0", MetricsPage.Fetch(lab), StringComparison.Ordinal);
            await daemon.WaitForLogAsync("queue rule udp-queue (NFQUEUE 1000) stopped serving");

            // A reload (what a restart does too) binds the queue again, and the pings resume.
            var reload = await daemon.SendAsync("reload");
            Assert.True(reload.Ok, reload.Error);
            Assert.Equal("running", (string)(await daemon.SendAsync("status")).Result!["queues"]!.AsArray().Single()!["state"]!);
            Assert.True(WaitFor(notify, m => m.Contains("WATCHDOG=1", StringComparison.Ordinal), TimeSpan.FromSeconds(20), out _), "no WATCHDOG=1 after the reload: " + daemon.Log);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Reads notify messages until one matches (true) or <paramref name="within"/> has passed (false).</summary>
    private static bool WaitFor(Socket notify, Func<string, bool> match, TimeSpan within, out string message)
    {
        var buffer = new byte[4096];
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < within)
        {
            notify.ReceiveTimeout = Math.Max(1, (int)(within - watch.Elapsed).TotalMilliseconds);
            try
            {
                message = Encoding.UTF8.GetString(buffer, 0, notify.Receive(buffer));
            }
            catch (SocketException)
            {
                break;
            }

            if (match(message))
            {
                return true;
            }
        }

        message = "";
        return false;
    }
}
