using System.Diagnostics;
using System.Text.Json.Nodes;
using Shaper.Tests.Lab;
using Xunit.Abstractions;

namespace Shaper.Tests.Daemon;

/// <summary>
/// Two shaperd in two namespace labs share one redis-server in a third (<see cref="FleetLab"/>). An observe rule with
/// <c>action = "block"</c> and <c>scope = "fleet"</c> blocks a client on the host it floods; the block reaches the
/// other host's kernel block set (listed by <c>block.list</c>, which lists a block once the kernel holds it), and a
/// host started again with no state of its own gets it from the fleet with its first sync. Each lists where the block
/// came from. A <c>block del</c> on the host that got it from the fleet deletes it from the fleet: the host that decided
/// it, stopped meanwhile and started again with its state (which holds the block), publishes it again, is refused, and
/// removes it; the other host never gets it back. A block decided after the deletion is shared again, and a
/// <c>block del</c> with both hosts up removes it from the other. <c>hosts</c> is left at its default of 1, which the blocks do not
/// depend on, and each daemon warns what it means for the limits.
/// </summary>
public sealed class FleetBlockDaemonTests(ITestOutputHelper output)
{
    private const string Rule = """
        [fleet]
        redis = "{redis}"
        host = "{host}"
        sync = "100ms"
        [[rule]]
        name = "fleet-block"
        match = { proto = "udp" }
        rate = "10/s"
        burst = 5
        enforce = "observe"
        action = "block"
        block_for = "60s"
        scope = "fleet"
        """;

    [RootFact]
    public async Task BlockDecidedOnOneHost_ReachesTheOtherHostsKernel_AndAHostStartedAgainGetsIt()
    {
        using var fleet = FleetLab.Create(2);
        var pcap = Path.Combine(Path.GetTempPath(), $"shaper-fleetblock-{Environment.ProcessId}.pcap");
        var daemons = new DaemonProcess?[2];
        var host0State = Directory.CreateTempSubdirectory("shaper-fleetblock-h0-").FullName; // host 0 keeps its state across a restart
        try
        {
            daemons[0] = Start(fleet, 0, host0State);
            daemons[1] = Start(fleet, 1);

            foreach (var daemon in daemons)
            {
                await WaitFor(daemon!, "the store answers", async d => (await d.SendAsync("fleet.status")).Result!["calls_successful"]!.GetValue<long>() >= 2);

                // hosts is left at its default of 1 (the blocks do not depend on the share): each daemon says what that means.
                Assert.Contains("fleet: hosts = 1: while the store is away this host enforces the whole limit", daemon!.Log, StringComparison.Ordinal);
            }

            // 50 packets at 100 a second from 198.18.20.9 to host 0: over 10/s with a burst of 5, so host 0 blocks it.
            TrafficPcap.Write(pcap, Enumerable.Range(0, 50).Select(k => new TrafficPcap.Udp(k * 10_000_000L, 0xC6121409u, 9000)));
            // Both kernels' block sets watched while host 0 is flooded: when each first holds the client.
            var lab = fleet.Labs[0];
            var sending = Task.Run(() => lab.Exec(lab.A, "tcpreplay", "-q", "-i", "va", pcap));
            var inKernel = new TimeSpan?[2];
            var watch = Stopwatch.StartNew();
            while ((inKernel[0] is null || inKernel[1] is null) && watch.Elapsed < TimeSpan.FromSeconds(10))
            {
                for (var i = 0; i < 2; i++)
                {
                    inKernel[i] ??= InKernel(fleet.Labs[i], "198.18.20.9") ? watch.Elapsed : null;
                }
            }

            var sent = await sending;
            Assert.True(sent.ExitCode == 0, sent.Error);
            output.WriteLine($"in host 0's kernel {inKernel[0]?.TotalMilliseconds:F0} ms after the flood began, in host 1's {inKernel[1]?.TotalMilliseconds:F0} ms");
            for (var i = 0; i < 2; i++)
            {
                output.WriteLine($"host {i}: {(await daemons[i]!.SendAsync("fleet.status")).Result!.ToJsonString()}");
            }

            Assert.NotNull(inKernel[0]);
            Assert.NotNull(inKernel[1]);

            // A round of each host (100 ms apart at most) and host 1's kernel transaction. Host 0 publishes the block as it
            // decides it, so host 1's kernel may have it first: 14 ms after host 0's kernel (this poll's resolution) and
            // 51 ms before it in two runs, 2.35 s after it in another beside other work, where the rounds and the install
            // came late; asserted at most 3 s after.
            Assert.True(inKernel[1]!.Value - inKernel[0]!.Value <= TimeSpan.FromSeconds(3), "host 1's kernel got the block more than 3 s after host 0's");

            // Host 1 holds it as an operator's block (stored and listed), and says where it came from.
            await WaitFor(daemons[1]!, "host 1 lists the block", d => Lists(d, "198.18.20.9"));
            await WaitFor(daemons[1]!, "host 1 logs the block", d => Task.FromResult(d.Log.Contains("fleet: block of 198.18.20.9/32 for ", StringComparison.Ordinal) && d.Log.Contains("from the fleet: installed", StringComparison.Ordinal)));

            // Host 1 stopped, and started again with no state of its own: the fleet hands it the live block.
            daemons[1]!.Dispose();
            daemons[1] = Start(fleet, 1);
            var again = await WaitFor(daemons[1]!, "the restarted host 1 gets the block", d => Lists(d, "198.18.20.9"));
            Assert.True(InKernel(fleet.Labs[1], "198.18.20.9"));
            output.WriteLine($"host 1 started again with an empty state: listed the block {again.TotalMilliseconds:F0} ms after it answered");

            // Where each block came from: host 0's rule decided it, host 1 has it from the fleet, published by h0.
            var decided = await Entry(daemons[0]!, "198.18.20.9/32");
            Assert.Equal("rule", decided["source"]!.GetValue<string>());
            Assert.Equal("fleet-block", decided["rule"]!.GetValue<string>());
            var shared = await Entry(daemons[1]!, "198.18.20.9/32");
            Assert.Equal("fleet", shared["source"]!.GetValue<string>());
            Assert.Equal("h0", shared["origin"]!.GetValue<string>());
            Assert.Matches(@"^198\.18\.20\.9/32 expires in \d+s  rule fleet-block$", BlockList(fleet.Labs[0], daemons[0]!));
            Assert.Matches(@"^198\.18\.20\.9/32 expires in \d+s  fleet from h0$", BlockList(fleet.Labs[1], daemons[1]!));

            // Host 0 stopped; block del on host 1 deletes the block here and from the fleet.
            daemons[0]!.Dispose();
            var deleted = await daemons[1]!.SendAsync("block.del", new JsonObject { ["address"] = "198.18.20.9" });
            Assert.True(deleted.Ok, deleted.Error);
            Assert.True(deleted.Result!["fleet"]!.GetValue<bool>());
            Assert.False(InKernel(fleet.Labs[1], "198.18.20.9"));
            await daemons[1]!.WaitForLogAsync("fleet: block of 198.18.20.9/32 deleted here");
            await WaitFor(daemons[1]!, "host 1 sends the deletion", async d => (await d.SendAsync("fleet.status")).Result!["blocks_deleted"]!.GetValue<long>() == 1);

            // Host 0 started again with its state, which still holds its rule's block: restored into its kernel, published
            // again with when it was decided, refused by the store (deleted since), and so removed.
            daemons[0] = Start(fleet, 0, host0State);
            var removed = await WaitFor(daemons[0]!, "the restarted host 0 removes the deleted block", async d => !await Lists(d, "198.18.20.9") && !InKernel(fleet.Labs[0], "198.18.20.9"));
            output.WriteLine($"host 0 started again with its state: removed the block the fleet deleted {removed.TotalMilliseconds:F0} ms after it answered");
            await daemons[0]!.WaitForLogAsync("fleet: block of 198.18.20.9/32 deleted in the fleet: removed");
            Assert.Equal(1, (await daemons[0]!.SendAsync("fleet.status")).Result!["blocks_removed"]!.GetValue<long>());

            // Neither host has it back after both have synced for a second more (ten rounds each).
            var settle = Stopwatch.StartNew();
            while (settle.Elapsed < TimeSpan.FromSeconds(1))
            {
                Assert.False(InKernel(fleet.Labs[0], "198.18.20.9") || InKernel(fleet.Labs[1], "198.18.20.9"), "a deleted fleet block came back");
                await Task.Delay(50);
            }

            Assert.False(await Lists(daemons[0]!, "198.18.20.9") || await Lists(daemons[1]!, "198.18.20.9"));

            // The client floods host 0 again: a block decided after the deletion is a new one, and reaches host 1. Then
            // block del on host 1 with both hosts up: host 0 removes it with its next read (two sync intervals: host 1's
            // round that sends the deletion and host 0's next).
            var resent = lab.Exec(lab.A, "tcpreplay", "-q", "-i", "va", pcap);
            Assert.True(resent.ExitCode == 0, resent.Error);
            await WaitFor(daemons[1]!, "host 1 gets the new block", d => Task.FromResult(InKernel(fleet.Labs[1], "198.18.20.9")));
            await WaitFor(daemons[0]!, "host 0 lists its new block", d => Lists(d, "198.18.20.9"));
            var live = await daemons[1]!.SendAsync("block.del", new JsonObject { ["address"] = "198.18.20.9" });
            Assert.True(live.Ok, live.Error);
            var gone = await WaitFor(daemons[0]!, "host 0 removes the block deleted on host 1", d => Task.FromResult(!InKernel(fleet.Labs[0], "198.18.20.9")));
            output.WriteLine($"both hosts up: host 0's kernel lost the block {gone.TotalMilliseconds:F0} ms after block del on host 1 answered");
            Assert.False(await Lists(daemons[0]!, "198.18.20.9"));
        }
        finally
        {
            foreach (var daemon in daemons)
            {
                daemon?.Dispose();
            }

            File.Delete(pcap);
            Directory.Delete(host0State, recursive: true);
        }
    }

    private static DaemonProcess Start(FleetLab fleet, int i, string? directory = null) =>
        DaemonProcess.Start(
            fleet.Labs[i].B,
            Rule.Replace("{redis}", FleetLab.Endpoint(i), StringComparison.Ordinal).Replace("{host}", $"h{i}", StringComparison.Ordinal),
            $"interface = \"{NetworkLab.ReceiverInterface}\"",
            directory: directory);

    /// <summary><c>shaperctl block list</c>'s text output.</summary>
    private static string BlockList(NetworkLab lab, DaemonProcess daemon)
    {
        var listed = lab.Exec(lab.B, "dotnet", [Path.Combine(AppContext.BaseDirectory, "shaperctl.dll"), "--socket", daemon.Socket, "block", "list"]);
        Assert.True(listed.ExitCode == 0, listed.Error);
        return listed.Output.Trim();
    }

    private static async Task<JsonNode> Entry(DaemonProcess daemon, string network) =>
        (await daemon.SendAsync("block.list")).Result!["entries"]!.AsArray().Single(e => e!["network"]!.GetValue<string>() == network)!;

    private static bool InKernel(NetworkLab lab, string address) =>
        lab.Exec(lab.B, "nft", "list", "set", "inet", "shaper", "block_v4").Output.Contains(address, StringComparison.Ordinal);

    private static async Task<bool> Lists(DaemonProcess daemon, string address) =>
        (await daemon.SendAsync("block.list")).Result!["blocks"]!.AsArray().Any(b => b!.GetValue<string>().StartsWith(address + "/", StringComparison.Ordinal));

    /// <summary>Polls <paramref name="condition"/> every 20 ms for at most 10 s; returns how long it took.</summary>
    private static async Task<TimeSpan> WaitFor(DaemonProcess daemon, string what, Func<DaemonProcess, Task<bool>> condition)
    {
        var watch = Stopwatch.StartNew();
        while (!await condition(daemon))
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"{what}: not within 10 s\n{daemon.Log}");
            await Task.Delay(20);
        }

        return watch.Elapsed;
    }
}
