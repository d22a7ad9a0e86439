using System.Diagnostics;
using System.Globalization;
using Shaper.Tests.Lab;
using Shaper.Threading;
using Xunit.Abstractions;

namespace Shaper.Tests.Daemon;

/// <summary>
/// The capture thread runs real-time while light, so that a packet's block is decided the moment its buffer is
/// ready, and steps down to normal scheduling while a flood keeps it busy, so that it never takes its CPU from the
/// rest of the host (an operator's shell included) beyond half of it for a tenth of a second.
/// </summary>
[Collection(KernelTrafficCollection.Name)]
public sealed class CaptureRealtimeTests(ITestOutputHelper output)
{
    /// <summary>Observe rules every packet matches: each costs a key lookup, so one thread saturates below what the sender reaches.</summary>
    private const int Rules = 64;

    [RootFact]
    public async Task Flood_SaturatingTheCaptureThread_StepsItDown_AndItStepsBackUpWhenLight()
    {
        using var lab = NetworkLab.Create();
        var pcap = Path.Combine(Path.GetTempPath(), $"shaper-realtime-{Environment.ProcessId}.pcap");
        var few = Path.Combine(Path.GetTempPath(), $"shaper-realtime-few-{Environment.ProcessId}.pcap");
        TrafficPcap.Write(pcap, TrafficPcap.SpoofedFlood(600_000));
        TrafficPcap.Write(few, TrafficPcap.SpoofedFlood(10, seed: 7));
        try
        {
            var rules = CountingRules.Many(Rules);
            using var daemon = DaemonProcess.Start(lab.B, rules, $"interface = \"{NetworkLab.ReceiverInterface}\"\nbackend = \"none\"\ncapture_threads = 1\nmax_keys = 16384", metrics: MetricsPage.Address);
            var thread = CaptureThread(daemon.Pid);
            var light = (await daemon.SendAsync("status")).Result!;
            Assert.Equal(ThreadScheduling.Fifo, Policy(daemon.Pid, thread));
            Assert.Equal(ThreadNice.CapturePath, Priority(daemon.Pid, thread));
            Assert.Equal(1, light["capture_realtime_threads"]!.GetValue<int>());
            Assert.Equal(0, light["capture_realtime_stepdowns"]!.GetValue<long>());
            Assert.Contains("\nshaper_capture_realtime_threads 1\n", MetricsPage.Fetch(lab), StringComparison.Ordinal);

            // Watch the thread's policy in the kernel while the flood runs, every 10 ms.
            using var flooding = new CancellationTokenSource();
            var policies = Task.Run(async () =>
            {
                var seen = new List<(double Ms, int Policy)>();
                var clock = Stopwatch.StartNew();
                while (!flooding.IsCancellationRequested)
                {
                    seen.Add((clock.Elapsed.TotalMilliseconds, Policy(daemon.Pid, thread)));
                    await Task.Delay(10);
                }

                return seen;
            });
            var cpuBefore = ThreadCpuSeconds(daemon.Pid, thread);
            var sending = Stopwatch.StartNew();
            var sent = lab.Exec(lab.A, "tcpreplay", "-q", "-i", "va", "--topspeed", pcap);
            var sendSeconds = sending.Elapsed.TotalSeconds;
            var cpu = ThreadCpuSeconds(daemon.Pid, thread) - cpuBefore;
            await flooding.CancelAsync();
            var seenPolicies = await policies;
            Assert.True(sent.ExitCode == 0, sent.Error + sent.Output);
            var busy = (await daemon.SendAsync("status")).Result!;
            var firstDown = seenPolicies.FirstOrDefault(p => p.Policy == ThreadScheduling.Other);
            var downShare = seenPolicies.Count(p => p.Policy == ThreadScheduling.Other) / (double)seenPolicies.Count;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"flood of 600,000 packets in {sendSeconds:F2} s; the capture thread used {cpu:F2} s of CPU ({cpu / sendSeconds:P0} of one); policy SCHED_OTHER in {downShare:P0} of {seenPolicies.Count} looks, first at {firstDown.Ms:F0} ms; step-downs {busy["capture_realtime_stepdowns"]}"));

            // The flood kept the thread busy, and it stepped down: the kernel saw it at SCHED_OTHER, and status counts it.
            Assert.True(cpu / sendSeconds > RealtimeBudget.StepDownAbove, $"the flood kept the capture thread only {cpu / sendSeconds:P0} busy");
            Assert.True(downShare > 0, "the capture thread never left SCHED_FIFO during the flood");
            Assert.True(busy["capture_realtime_stepdowns"]!.GetValue<long>() >= 1, busy.ToJsonString());
            Assert.Matches("\nshaper_capture_realtime_stepdowns_total [1-9][0-9]*\n", MetricsPage.Fetch(lab));

            // Light again: back to real-time after a calm second. The thread checks between blocks of packets (asleep
            // in the kernel it costs nothing at either policy), so a few packets now and then bring the check.
            var deadline = Stopwatch.StartNew();
            var back = -1.0;
            while (deadline.Elapsed < TimeSpan.FromSeconds(10))
            {
                _ = lab.Exec(lab.A, "tcpreplay", "-q", "-i", "va", few);
                if (Policy(daemon.Pid, thread) == ThreadScheduling.Fifo)
                {
                    back = deadline.Elapsed.TotalSeconds;
                    break;
                }

                await Task.Delay(100);
            }

            var after = (await daemon.SendAsync("status")).Result!;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"back to SCHED_FIFO {back:F2} s after the flood; status {after}"));
            Assert.True(back >= 0, "the capture thread did not step back up within 10 s of the flood's end");
            Assert.Equal(ThreadNice.CapturePath, Priority(daemon.Pid, thread));
            Assert.Equal(1, after["capture_realtime_threads"]!.GetValue<int>());
        }
        finally
        {
            File.Delete(pcap);
            File.Delete(few);
        }
    }

    /// <summary>The thread id of the daemon's only capture thread (its name, shaper-capture-0, cut to the kernel's 15 characters).</summary>
    private static int CaptureThread(int pid) =>
        Directory.GetDirectories($"/proc/{pid}/task")
            .Select(d => int.Parse(Path.GetFileName(d), CultureInfo.InvariantCulture))
            .Single(tid => File.ReadAllText($"/proc/{pid}/task/{tid}/comm").Trim() == "shaper-capture-");

    /// <summary>A thread's scheduling policy.</summary>
    private static int Policy(int pid, int tid) => ThreadScheduling.Policy(ThreadScheduling.Of(pid, tid));

    /// <summary>A thread's real-time priority (0 under SCHED_OTHER).</summary>
    private static int Priority(int pid, int tid) => ThreadScheduling.Priority(ThreadScheduling.Of(pid, tid));

    /// <summary>A thread's CPU time, user and system (/proc stat fields 14 and 15, in ticks of 10 ms).</summary>
    private static double ThreadCpuSeconds(int pid, int tid) =>
        (ThreadScheduling.Field(ThreadScheduling.Of(pid, tid), 14) + ThreadScheduling.Field(ThreadScheduling.Of(pid, tid), 15)) / 100.0;
}
