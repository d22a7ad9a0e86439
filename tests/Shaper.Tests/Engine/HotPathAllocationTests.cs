using Shaper.Engine;
using Shaper.Packets;
using Shaper.Rules;
using Shaper.Tests.Packets;

namespace Shaper.Tests.Engine;

/// <summary>
/// The packet path allocates nothing (issue 11, item 7): bytes allocated on this thread across many engine decisions
/// and many parsed packets, after a warm-up that creates every key and JITs every path, must be 0 in one of three
/// rounds (<see cref="Allocations"/>). Not timed.
/// </summary>
public sealed class HotPathAllocationTests
{
    private const long Us = 1_000;

    [Theory]
    [InlineData("algorithm = \"token_bucket\"\nrate = \"50/s\"\nburst = 10", "action = \"drop\"")]
    [InlineData("algorithm = \"leaky_bucket\"\nrate = \"50/s\"\nburst = 10", "action = \"reject\"")] // the leaky meter
    [InlineData("algorithm = \"fixed_window\"\nlimit = 50\nwindow = \"1s\"", "action = \"block\"\nblock_for = \"1s\"")]
    [InlineData("algorithm = \"sliding_log\"\nlimit = 50\nwindow = \"1s\"", "action = \"drop\"")]
    [InlineData("algorithm = \"sliding_window\"\nlimit = 50\nwindow = \"1s\"", "action = \"log\"")]
    [InlineData("algorithm = \"sliding_window\"\nlimit = 50\nwindow = \"1s\"\nmode = \"soft\"", "action = \"drop\"")]
    [InlineData("algorithm = \"token_bucket\"\nrate = \"50/s\"\nburst = 10", "action = \"drop\"", "[global]\nrate = \"20000/s\"\nburst = 100\n")] // under the [global] cap
    [InlineData("algorithm = \"sliding_log\"\nlimit = 50\nwindow = \"1s\"", "action = \"drop\"", "", ", iface = \"eth*\"")] // held to interfaces
    public void Process_EachAlgorithmAndAction_ZeroBytesPerDecision(string limits, string action, string head = "", string match = "")
    {
        var config = ConfigLoader.Parse(
            $"[daemon]\ninterface = \"eth0\"\n{head}[[rule]]\nname = \"r\"\nmatch = {{ proto = \"udp\"{match} }}\n{limits}\nenforce = \"observe\"\n{action}\n",
            "t.toml");
        Assert.True(config.Config is not null, string.Join("; ", config.Diagnostics));
        var rules = CompiledRuleSet.Compile(config.Config);
        rules.ResolveInterfaces([("eth0", 2), ("eth1", 7)]);
        var engine = new RuleEngine(rules, 4096);
        engine.KeyHeld += _ => { };
        engine.KeyBlocked += (_, _, _, _, _, _) => { };
        engine.KeyOverLimit += _ => { };

        // 64 sources of each family at 1,000 packets a second each, far over every limit: every key created, passed,
        // refused, held or blocked and released, windows rolled over, before the count starts.
        var t = 0L;
        for (var i = 0; i < 300_000; i++, t += 25 * Us)
        {
            engine.Process(Packet(i, t));
        }

        // Three rounds of 300,000 more, one of which must allocate nothing (see Allocations): once in CI, with the suite
        // around it, the single round of this case counted 1,008 bytes.
        var allocated = Allocations.PerRound(() =>
        {
            for (var i = 0; i < 300_000; i++, t += 25 * Us)
            {
                engine.Process(Packet(i, t));
            }
        });

        var report = engine.Report(t).Single();
        Assert.True(report.Passed > 0 && report.Limited > 0, $"passed {report.Passed}, limited {report.Limited}: both paths must run");
        Assert.True(allocated.Min() == 0, $"bytes allocated in each round of 300,000 decisions: {string.Join(", ", allocated)}");
    }

    [Fact]
    public void Parse_EveryFrameKindOnEveryLink_ZeroBytesPerPacket()
    {
        var rng = new Random(11);
        var frames = new List<(byte[] Frame, LinkKind Link)>();
        for (var kind = 0; kind < ReferenceFrames.IpKinds; kind++)
        {
            var ip = ReferenceFrames.IpPacket(rng, kind);
            frames.Add((ReferenceFrames.Ethernet(rng, ip), LinkKind.Ethernet));
            frames.Add((ReferenceFrames.Ethernet(rng, ip, (0x88A8, 7), (0x8100, 9)), LinkKind.Ethernet));
            frames.Add((ReferenceFrames.LinuxSll(rng, ip), LinkKind.LinuxSll));
            frames.Add((ReferenceFrames.LinuxSll2(rng, ip), LinkKind.LinuxSll2));
            frames.Add((ip, LinkKind.RawIp));
        }

        frames.Add((ReferenceFrames.Arp(rng), LinkKind.Ethernet)); // not IP: refused, also without allocating

        var parsed = 0;
        foreach (var (frame, link) in frames)
        {
            parsed += PacketParser.Parse(frame, link, out _) == ParseResult.Ok ? 1 : 0;
        }

        // Rounds of 1,000 passes over every frame, one of which must allocate nothing (see Allocations).
        var allocated = Allocations.PerRound(() =>
        {
            for (var round = 0; round < 1000; round++)
            {
                foreach (var (frame, link) in frames)
                {
                    _ = PacketParser.Parse(frame, link, out _);
                }
            }
        });

        Assert.True(allocated.Min() == 0, $"bytes allocated in each round of 1,000 passes: {string.Join(", ", allocated)}");
        Assert.True(parsed >= ReferenceFrames.IpKinds * 5, $"only {parsed} of {frames.Count} frames parsed");
    }

    /// <summary>Packet <paramref name="i"/>: UDP from one of 64 IPv4 or 64 IPv6 sources, in turn.</summary>
    private static PacketMeta Packet(int i, long t)
    {
        var v4 = (i & 1) == 0;
        return new PacketMeta
        {
            TimestampNs = t,
            Family = v4 ? IpFamily.V4 : IpFamily.V6,
            Protocol = 17,
            Source = v4 ? 0xC6120100u + (uint)((i >> 1) % 64) : (((UInt128)0x20010db8 << 96) | (uint)((i >> 1) % 64)),
            Destination = v4 ? 0xC6120002u : (((UInt128)0x20010db8 << 96) | 2),
            SourcePort = 40000,
            DestinationPort = 9000,
            IpLength = 64,
            InterfaceIndex = 7,
        };
    }
}
