using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Shaper.Queue;
using Shaper.Tests.Lab;

namespace Shaper.Benchmarks;

/// <summary>
/// Issue 12: packets per second through an NFQUEUE queue with every key under its rate (immediate verdicts): shaperd's
/// queue rule against a minimal C consumer on libnetfilter_queue that accepts everything, compiled here (it is the
/// baseline, never shipped), on the same traffic in the same run, in a namespace lab. The same pcap (UDP from 64
/// sources) is replayed at top speed into each in turn, several rounds; throughput is what the consumer verdicted
/// (the kernel's packet ids for the queue) over the time from the first packet sent to the queue empty again.
/// </summary>
internal static class QueueBenchmark
{
    private const int QueueNumber = 1000;

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

    /// <summary>The baseline: libnetfilter_queue's documented loop, accept in the callback, the same copy range and queue length.</summary>
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
            var pcap = Path.Combine(directory, "flood.pcap");
            var packets = options.Quick ? 100_000 : 300_000;
            TrafficPcap.Write(pcap, Enumerable.Range(0, packets).Select(i => new TrafficPcap.Udp(i * 1000L, 0xC6120100u + (uint)(i % 64), 9000)));
            using var lab = NetworkLab.Create();
            lab.AddSenderAddresses(64);
            var rounds = options.Quick ? 2 : 4;
            var ours = new List<Round>();
            var baseline = new List<Round>();
            for (var round = 0; round < rounds; round++)
            {
                using (var daemon = DaemonProcess.Start(lab.B, Rule, $"queue_num = {QueueNumber}"))
                {
                    ours.Add(Measure(lab, pcap));
                }

                baseline.Add(RunBaseline(lab, consumer, pcap));
            }

            var oursPps = Median(ours.Select(r => r.Pps));
            var basePps = Median(baseline.Select(r => r.Pps));
            var result = new JsonObject
            {
                ["packets_per_round"] = packets,
                ["rounds"] = rounds,
                ["shaperd_pps_median"] = Math.Round(oursPps),
                ["baseline_libnetfilter_queue_pps_median"] = Math.Round(basePps),
                ["ratio"] = Math.Round(oursPps / basePps, 3),
                ["shaperd_rounds"] = new JsonArray([.. ours.Select(r => r.ToJson())]),
                ["baseline_rounds"] = new JsonArray([.. baseline.Select(r => r.ToJson())]),
                ["traffic"] = "tcpreplay --topspeed of UDP from 64 sources to one port, every key far under the rule's 1000000/s",
            };
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"queue: shaperd {oursPps:F0} packets/s through NFQUEUE with immediate verdicts, libnetfilter_queue C consumer {basePps:F0} (ratio {oursPps / basePps:F2}), median of {rounds} rounds"));
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

    private static Round RunBaseline(NetworkLab lab, string consumer, string pcap)
    {
        var rule = $"*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p udp --dport 9000 -j NFQUEUE --queue-num {QueueNumber} --queue-bypass\nCOMMIT\n";
        Shaper.Tests.Lab.Run.Command("ip", ["netns", "exec", lab.B, "iptables-restore"], rule).EnsureSuccess("installing the baseline's NFQUEUE rule");
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { "netns", "exec", lab.B, consumer, QueueNumber.ToString(CultureInfo.InvariantCulture) })
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

            return Measure(lab, pcap);
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

    /// <summary>Replays the flood at top speed and waits for the queue to be empty; the kernel's ids say how many the consumer took.</summary>
    private static Round Measure(NetworkLab lab, string pcap)
    {
        var before = Stats(lab);
        var watch = Stopwatch.StartNew();
        lab.Exec(lab.A, "tcpreplay", "-q", "--topspeed", "-i", "va", pcap).EnsureSuccess("tcpreplay");
        var sendSeconds = watch.Elapsed.TotalSeconds;
        var after = Stats(lab);
        while (after.Waiting > 0 && watch.Elapsed < TimeSpan.FromSeconds(30))
        {
            after = Stats(lab);
        }

        var seconds = watch.Elapsed.TotalSeconds;
        var queued = after.IdSequence - before.IdSequence;
        return new Round(queued, seconds, sendSeconds, after.QueueDropped - before.QueueDropped, after.UserDropped - before.UserDropped);
    }

    private static KernelQueueStats Stats(NetworkLab lab) =>
        KernelQueueStats.Parse(lab.Exec(lab.B, "cat", KernelQueueStats.Path).Output).Single(s => s.Number == QueueNumber);

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private sealed record Round(long Queued, double Seconds, double SendSeconds, long QueueDropped, long UserDropped)
    {
        public double Pps => Queued / Seconds;

        public JsonObject ToJson() => new()
        {
            ["verdicted"] = Queued,
            ["seconds"] = Math.Round(Seconds, 3),
            ["send_seconds"] = Math.Round(SendSeconds, 3),
            ["pps"] = Math.Round(Pps),
            ["kernel_queue_dropped"] = QueueDropped,
            ["kernel_user_dropped"] = UserDropped,
        };
    }
}
