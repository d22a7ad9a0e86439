using Microsoft.Extensions.Time.Testing;
using Shaper.Firewall;
using Shaper.Plan;
using Shaper.Rules;
using Shaper.Tests.Lab;

namespace Shaper.Tests.Firewall;

/// <summary>The iptables backend over a fake iptables: what it runs and what it reads back. No root needed.</summary>
public sealed class IptablesBackendTests
{
    // iptables-save -c output as the kernel printed it (30 packets to udp/9000 from one source, burst 5).
    private const string Counted = """
        *filter
        :SHAPER-INPUT - [0:0]
        [35:1190] -A INPUT -j SHAPER-INPUT
        [30:900] -A SHAPER-INPUT -p udp -m multiport --dports 9000 -m comment --comment "shaper:r:matched"
        [25:750] -A SHAPER-INPUT -p udp -m multiport --dports 9000 -m hashlimit --hashlimit-above 10/sec --hashlimit-burst 5 --hashlimit-mode srcip --hashlimit-name shpx -m comment --comment "shaper:r:limited" -m recent --set --name shaper-r --mask 255.255.255.255 --rsource -j DROP
        COMMIT
        """;

    [Fact]
    public void RuleCounters_FromIptablesSave_MatchedLessLimitedPassed()
    {
        var iptables = new FakeIptables { V4Counters = Counted };
        var backend = new IptablesBackend(iptables, TimeProvider.System);
        Assert.Null(backend.Apply(EnforcementPlan.Compile(ConfigLoader.Parse("[[rule]]\nname = \"r\"\nmatch = { proto = \"udp\", dport = [9000] }\nrate = \"10/s\"\nburst = 5\n", "t.toml").Config!, BackendKind.Iptables)));

        Assert.Equal([("r", 5L, 25L)], backend.RuleCounters());
    }

    [Fact]
    public void Blocks_ExpireWhenTheirTimeToLiveIsOver_OneDeleteEach()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var iptables = new FakeIptables();
        var backend = new IptablesBackend(iptables, time);
        Assert.Null(backend.AddBlocks([(System.Net.IPNetwork.Parse("198.18.9.9/32"), TimeSpan.FromSeconds(2)), (System.Net.IPNetwork.Parse("2001:db8::7/128"), TimeSpan.FromSeconds(5))]));
        Assert.Equal(["4 *filter\n-A SHAPER-BLOCK -s 198.18.9.9/32 -j DROP\nCOMMIT\n", "6 *filter\n-A SHAPER-BLOCK -s 2001:db8::7/128 -j DROP\nCOMMIT\n"], iptables.Restored);
        iptables.Restored.Clear();

        time.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.Empty(iptables.Restored);
        time.Advance(TimeSpan.FromMilliseconds(1)); // the timer is set for the earliest end
        Assert.Equal(["4 *filter\n-D SHAPER-BLOCK -s 198.18.9.9/32 -j DROP\nCOMMIT\n"], iptables.Restored);
        time.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal("6 *filter\n-D SHAPER-BLOCK -s 2001:db8::7/128 -j DROP\nCOMMIT\n", iptables.Restored[^1]);
        Assert.Equal(0, backend.BlockCount);
    }

    private sealed class FakeIptables : IIptablesRunner
    {
        public string V4Counters { get; init; } = "";

        public List<string> Restored { get; } = [];

        public NftResult Restore(bool v4, string script, bool test = false)
        {
            if (!test)
            {
                Restored.Add((v4 ? "4 " : "6 ") + script);
            }

            return new NftResult(true, "", "");
        }

        public NftResult Save(bool v4, bool counters = false) => new(true, counters && v4 ? V4Counters : "", "");
    }
}
