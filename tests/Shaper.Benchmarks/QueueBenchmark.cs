using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Shaper.Queue;
using Shaper.Tests.Lab;
using Shaper.Tests.Queue;

namespace Shaper.Benchmarks;

/// <summary>
/// Issue 12: packets per second through an NFQUEUE queue with every key under its rate (immediate verdicts): shaperd's
/// queue rule against a minimal C consumer on libnetfilter_queue that accepts everything, compiled here (it is the
/// baseline, never shipped), on the same traffic in the same run, in a namespace lab. trafgen sends the same UDP
/// packets from 64 sources at its top speed into each in turn, several rounds; where it is faster than the consumer
/// verdicts, the kernel's queue (8,192 long, fail-open for both) overflows and the kernel accepts the overflow itself,
/// and throughput is what the consumer verdicted (the kernel's packet ids for the queue, which count only the packets
/// queued) over the time from the first packet sent to the queue empty again; where it is not, the round measures the
/// sender, which shares the two cores with the consumer. (tcpreplay, the earlier sender, was slower than both.) The
/// baseline runs at the same real-time priority as shaperd's queue thread (<c>chrt -f 5</c>), so neither gets more of
/// the CPUs than the other. Then the added latency of a polite source: 200 packets a second, every other one to a port
/// no rule matches, one-way delay through the queue against that, per round and as the median over rounds.
/// Beside each top-speed round, the consumer's own pace with packets waiting, which the sender cannot limit: the
/// consumer is stopped (SIGSTOP), trafgen queues 8,000 packets, and the time from SIGCONT to the queue empty again
/// (read from the consumer's own /proc, so without a process start per look) gives packets a second; several drains a
/// round, the median over all of them.
/// </summary>
internal static partial class QueueBenchmark
{
    private const int QueueNumber = 1000;

    /// <summary>Packets queued for each drain: under the kernel's queue length (8,192) and what the 4 MB socket buffer holds.</summary>
    private const int DrainPackets = 8000;

    private const int DrainsPerRound = 8;

    private const int SigCont = 18;
    private const int SigStop = 19;

    private const string Rule = """
        [[rule]]
        name = "udp-queue"
        match = { proto = "udp", dport = [9000] }
        per = "src"
        algorithm = "leaky_bucket"
        rate = "1000000/s"
        queue = 64
        enforce = "queue"
        """;

    /// <summary>The baseline: libnetfilter_queue's documented loop, accept in the callback, the same copy range, queue length and fail-open.</summary>
    private const string Consumer = """
        #include <arpa/inet.h>
        #include <linux/netfilter.h>
        #include <libnetfilter_queue/libnetfilter_queue.h>
        #include <signal.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <sys/socket.h>

        static volatile sig_atomic_t stop;
        static void on_term(int sig) { (void)sig; stop = 1; }

        static int cb(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data) {
            (void)msg; (void)data;
            struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
            return nfq_set_verdict(qh, ntohl(ph->packet_id), NF_ACCEPT, 0, NULL);
        }

        int main(int argc, char **argv) {
            int num = atoi(argv[1]);
            struct nfq_handle *h = nfq_open();
            if (!h) { perror("nfq_open"); return 1; }
            struct nfq_q_handle *qh = nfq_create_queue(h, num, &cb, NULL);
            if (!qh) { perror("nfq_create_queue"); return 1; }
            nfq_set_mode(qh, NFQNL_COPY_PACKET, 128);
            nfq_set_queue_maxlen(qh, 8192);
            nfq_set_queue_flags(qh, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN);
            nfnl_rcvbufsiz(nfq_nfnlh(h), 4 << 20);
            signal(SIGTERM, on_term);
            printf("bound\n");
            fflush(stdout);
            int fd = nfq_fd(h);
            char buf[65536] __attribute__((aligned));
            while (!stop) {
                int rv = recv(fd, buf, sizeof(buf), 0);
                if (rv >= 0) nfq_handle_packet(h, buf, rv);
            }
            nfq_destroy_queue(qh);
            nfq_close(h);
            return 0;
        }
        """;

    public static JsonObject? Run(BenchOptions options)
    {
        if (Environment.UserName != "root")
        {
            Console.WriteLine("queue: skipped, needs root (it creates network namespaces)");
            return null;
        }

        var directory = Directory.CreateTempSubdirectory("shaper-queue-bench-").FullName;
        try
        {
            var consumer = Compile(directory);
            var packets = options.Quick ? 200_000 : 1_000_000;
            using var lab = NetworkLab.Create();
            lab.AddSenderAddresses(64);
            var rounds = options.Quick ? 2 : 4;
            var ours = new List<Round>();
            var baseline = new List<Round>();
            var oursDrains = new List<double>();
            var baseDrains = new List<double>();
            for (var round = 0; round < rounds; round++)
            {
                using (var daemon = DaemonProcess.Start(lab.B, Rule, $"queue_num = {QueueNumber}"))
                {
                    ours.Add(Measure(lab, packets, $"/proc/{daemon.Pid}/task/{QueueThread(daemon.Pid)}/schedstat"));
                    oursDrains.AddRange(Drains(lab, daemon.Pid, DrainsPerRound));
                }

                baseline.Add(RunBaseline(lab, consumer, packets, baseDrains));
            }

            var latency = new JsonArray();
            for (var round = 0; round < rounds; round++)
            {
                latency.Add(Latency(lab));
            }

            var oursPps = Median(ours.Select(r => r.Pps));
            var basePps = Median(baseline.Select(r => r.Pps));
            var oursDrain = Median(oursDrains);
            var baseDrain = Median(baseDrains);
            var oursCpu = Median(ours.Select(r => r.PerCpuSecond));
            var baseCpu = Median(baseline.Select(r => r.PerCpuSecond));
            var result = new JsonObject
            {
                ["packets_per_round"] = packets,
                ["rounds"] = rounds,
                ["shaperd_pps_median"] = Math.Round(oursPps),
                ["baseline_libnetfilter_queue_pps_median"] = Math.Round(basePps),
                ["ratio"] = Math.Round(oursPps / basePps, 3),
                ["shaperd_packets_per_cpu_second_median"] = Math.Round(oursCpu),
                ["baseline_packets_per_cpu_second_median"] = Math.Round(baseCpu),
                ["cpu_ratio"] = Math.Round(oursCpu / baseCpu, 3),
                ["drain_packets"] = DrainPackets,
                ["shaperd_drain_pps_median"] = Math.Round(oursDrain),
                ["baseline_drain_pps_median"] = Math.Round(baseDrain),
                ["drain_ratio"] = Math.Round(oursDrain / baseDrain, 3),
                ["shaperd_drains_pps"] = new JsonArray([.. oursDrains.Select(d => (JsonNode)Math.Round(d))]),
                ["baseline_drains_pps"] = new JsonArray([.. baseDrains.Select(d => (JsonNode)Math.Round(d))]),
                ["note"] = "the sender outpaces both consumers (sender_pps per round above pps), so pps is what each verdicts flat out while the fail-open queue overflows; packets per CPU second of the consumer (shaperd's queue thread, the C process; the scheduler's nanosecond count, schedstat) is what each would verdict with a core of its own; consumer_runs is how many times the scheduler put it on a CPU",
                ["shaperd_rounds"] = new JsonArray([.. ours.Select(r => r.ToJson())]),
                ["baseline_rounds"] = new JsonArray([.. baseline.Select(r => r.ToJson())]),
                ["traffic"] = "trafgen at top speed, UDP from 64 sources to one port, every key far under the rule's 1000000/s",
                ["polite_added_p50_us_median"] = Math.Round(Median(latency.Select(l => (double)l!["added_p50_us"]!)), 1),
                ["polite_added_p99_us_median"] = Math.Round(Median(latency.Select(l => (double)l!["added_p99_us"]!)), 1),
                ["polite_rounds"] = latency,
            };
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"queue: a polite source's added one-way delay, median over {rounds} rounds: p50 {result["polite_added_p50_us_median"]} µs, p99 {result["polite_added_p99_us_median"]} µs"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"queue: shaperd {oursPps:F0} packets/s through NFQUEUE with immediate verdicts, libnetfilter_queue C consumer {basePps:F0} (ratio {oursPps / basePps:F2}), median of {rounds} rounds"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"       per CPU second of the consumer: shaperd's queue thread {oursCpu:F0}, the C consumer {baseCpu:F0} (ratio {oursCpu / baseCpu:F2})"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"       with {DrainPackets} packets waiting: shaperd {oursDrain:F0} packets/s, the C consumer {baseDrain:F0} (ratio {oursDrain / baseDrain:F2}), median of {oursDrains.Count} and {baseDrains.Count} drains"));
            return result;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static string Compile(string directory)
    {
        var source = Path.Combine(directory, "nfq-accept.c");
        var binary = Path.Combine(directory, "nfq-accept");
        File.WriteAllText(source, Consumer);
        Shaper.Tests.Lab.Run.Command("gcc", ["-O2", "-o", binary, source, "-lnetfilter_queue", "-lnfnetlink"]).EnsureSuccess("compiling the libnetfilter_queue baseline (apt-get install gcc libnetfilter-queue-dev)");
        return binary;
    }

    private static Round RunBaseline(NetworkLab lab, string consumer, long packets, List<double> drains)
    {
        var rule = $"*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p udp --dport 9000 -j NFQUEUE --queue-num {QueueNumber} --queue-bypass\nCOMMIT\n";
        Shaper.Tests.Lab.Run.Command("ip", ["netns", "exec", lab.B, "iptables-restore"], rule).EnsureSuccess("installing the baseline's NFQUEUE rule");
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { "netns", "exec", lab.B, "chrt", "-f", "5", consumer, QueueNumber.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        try
        {
            if (process.StandardOutput.ReadLine() != "bound")
            {
                throw new InvalidOperationException("the libnetfilter_queue baseline did not bind its queue");
            }

            var round = Measure(lab, packets, $"/proc/{process.Id}/schedstat");
            drains.AddRange(Drains(lab, process.Id, DrainsPerRound));
            return round;
        }
        finally
        {
            Shaper.Tests.Lab.Run.Command("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]);
            if (!process.WaitForExit(TimeSpan.FromSeconds(5)))
            {
                process.Kill(entireProcessTree: true);
            }

            Shaper.Tests.Lab.Run.Command("ip", ["netns", "exec", lab.B, "iptables", "-F", "INPUT"]);
        }
    }

    /// <summary>
    /// Sends <paramref name="packets"/> at trafgen's top speed and waits for the queue to be empty; the kernel's ids say how
    /// many the consumer took, and <paramref name="schedstat"/> (the consumer's thread or process) how much CPU it spent on
    /// them and how many times it was put on a CPU to run.
    /// </summary>
    private static Round Measure(NetworkLab lab, long packets, string schedstat)
    {
        var before = Stats(lab);
        var (cpuBefore, runsBefore) = Scheduled(schedstat);
        var watch = Stopwatch.StartNew();
        var sendPps = Trafgen.Send(lab, 0xC6120100u, 64, 0, packets);
        var sendSeconds = watch.Elapsed.TotalSeconds;
        var after = Stats(lab);
        while (after.Waiting > 0 && watch.Elapsed < TimeSpan.FromSeconds(30))
        {
            after = Stats(lab);
        }

        var seconds = watch.Elapsed.TotalSeconds;
        var (cpuAfter, runsAfter) = Scheduled(schedstat);
        var queued = after.IdSequence - before.IdSequence;
        return new Round(queued, seconds, sendSeconds, sendPps, cpuAfter - cpuBefore, runsAfter - runsBefore, after.QueueDropped - before.QueueDropped, after.UserDropped - before.UserDropped);
    }

    /// <summary>
    /// The scheduler's own figures for a process or thread (<c>schedstat</c>): CPU time in seconds (counted in
    /// nanoseconds, where <c>stat</c>'s user and system times are 10 ms ticks sampled at the timer interrupt) and how
    /// many times it was put on a CPU.
    /// </summary>
    private static (double Seconds, long Runs) Scheduled(string schedstat)
    {
        var fields = File.ReadAllText(schedstat).Split(' ');
        return (long.Parse(fields[0], CultureInfo.InvariantCulture) / 1e9, long.Parse(fields[2], CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// <paramref name="count"/> drains of <see cref="DrainPackets"/> packets by the consumer <paramref name="pid"/>: each
    /// with the consumer stopped while trafgen queues them, then timed from SIGCONT to the kernel's queue empty. Packets
    /// a second of each.
    /// </summary>
    private static List<double> Drains(NetworkLab lab, int pid, int count)
    {
        var stats = $"/proc/{pid}/net/netfilter/nfnetlink_queue";
        KernelQueueStats Read() => KernelQueueStats.Parse(File.ReadAllText(stats)).Single(s => s.Number == QueueNumber);
        var rates = new List<double>();
        for (var i = 0; i < count; i++)
        {
            Signal(pid, SigStop);
            var watch = Stopwatch.StartNew();
            while (!Directory.GetDirectories($"/proc/{pid}/task").All(t => File.ReadAllText(Path.Combine(t, "stat")).Split(") ")[1].StartsWith('T')) && watch.Elapsed < TimeSpan.FromSeconds(5))
            {
            }

            Trafgen.Send(lab, 0xC6120100u, 64, 0, DrainPackets);
            var waiting = Read().Waiting;
            for (var settled = Read().Waiting; settled != waiting; settled = Read().Waiting)
            {
                waiting = settled;
            }

            watch.Restart();
            Signal(pid, SigCont);
            while (Read().Waiting > 0 && watch.Elapsed < TimeSpan.FromSeconds(10))
            {
            }

            rates.Add(waiting / watch.Elapsed.TotalSeconds);
        }

        return rates;
    }

    private static void Signal(int pid, int signal)
    {
        if (Kill(pid, signal) != 0)
        {
            throw new InvalidOperationException($"kill({pid}, {signal}): errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>The thread id of shaperd's queue thread (named after its queue).</summary>
    private static string QueueThread(int pid) =>
        Path.GetFileName(Directory.GetDirectories($"/proc/{pid}/task").First(t => File.ReadAllText(Path.Combine(t, "comm")).Trim() == $"queue {QueueNumber}"));

    /// <summary>One round of the polite source: 5 s at 200 packets a second, half through a 10000/s queue rule, half to port 9001.</summary>
    private static JsonObject Latency(NetworkLab lab)
    {
        const string polite = "[[rule]]\nname = \"udp-queue\"\nmatch = { proto = \"udp\", dport = [9000] }\nalgorithm = \"leaky_bucket\"\nrate = \"10000/s\"\nqueue = 25\nenforce = \"queue\"\n";
        using var daemon = DaemonProcess.Start(lab.B, polite, $"queue_num = {QueueNumber}");
        using var probe = UdpProbe.Open(lab, ["198.18.1.1"]);
        probe.Send(200, TimeSpan.FromSeconds(5), alternate: true);
        var arrivals = probe.Finish(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
        List<double> Delays(int port) => [.. arrivals.Where(a => a.Port == port).Select(a => a.DelayMs * 1000).Order()];
        static double At(List<double> sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
        var queued = Delays(9000);
        var plain = Delays(9001);
        return new JsonObject
        {
            ["queued_packets"] = queued.Count,
            ["plain_packets"] = plain.Count,
            ["queued_p50_us"] = Math.Round(At(queued, 0.5), 1),
            ["queued_p99_us"] = Math.Round(At(queued, 0.99), 1),
            ["plain_p50_us"] = Math.Round(At(plain, 0.5), 1),
            ["plain_p99_us"] = Math.Round(At(plain, 0.99), 1),
            ["added_p50_us"] = Math.Round(At(queued, 0.5) - At(plain, 0.5), 1),
            ["added_p99_us"] = Math.Round(At(queued, 0.99) - At(plain, 0.99), 1),
        };
    }

    private static KernelQueueStats Stats(NetworkLab lab) =>
        KernelQueueStats.Parse(lab.Exec(lab.B, "cat", KernelQueueStats.Path).Output).Single(s => s.Number == QueueNumber);

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private sealed record Round(long Queued, double Seconds, double SendSeconds, double SendPps, double CpuSeconds, long Runs, long QueueDropped, long UserDropped)
    {
        public double Pps => Queued / Seconds;

        /// <summary>Packets per second of the consumer's own CPU: what one core would verdict flat out.</summary>
        public double PerCpuSecond => Queued / Math.Max(CpuSeconds, 0.01);

        public JsonObject ToJson() => new()
        {
            ["verdicted"] = Queued,
            ["seconds"] = Math.Round(Seconds, 3),
            ["send_seconds"] = Math.Round(SendSeconds, 3),
            ["sender_pps"] = Math.Round(SendPps),
            ["pps"] = Math.Round(Pps),
            ["consumer_cpu_seconds"] = Math.Round(CpuSeconds, 3),
            ["packets_per_cpu_second"] = Math.Round(PerCpuSecond),
            ["consumer_runs"] = Runs,
            ["packets_per_run"] = Math.Round(Queued / (double)Math.Max(Runs, 1), 1),
            ["kernel_queue_dropped"] = QueueDropped,
            ["kernel_user_dropped"] = UserDropped,
        };
    }
}
