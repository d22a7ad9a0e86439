using Shaper.Engine;
using Shaper.Packets;
using Shaper.Plan;
using Shaper.Rules;

namespace Shaper.Tests.Engine;

/// <summary>
/// <c>match.iface</c> in the engine: names resolved to the indexes packets carry, a trailing <c>*</c> as a prefix, the
/// capture widened to <c>any</c> when rules name other interfaces (and rules without one held to the daemon's), and an
/// interface that goes and comes back with a new index matched again once the names are resolved again.
/// </summary>
public sealed class InterfaceMatchTests
{
    private static readonly (string Name, int Index)[] Host = [("lo", 1), ("eth0", 2), ("eth1", 3), ("veth0", 4), ("vd", 9)];

    private static EnforcementPlan Plan(string daemonInterface, params string?[] ifaces)
    {
        var rules = string.Concat(ifaces.Select((iface, i) => $"""
            [[rule]]
            name = "r{i}"
            match = {"{"} proto = "udp"{(iface is null ? "" : $", iface = \"{iface}\"")} {"}"}
            algorithm = "fixed_window"
            limit = 2
            window = "10s"
            enforce = "observe"
            action = "log"

            """));
        var loaded = ConfigLoader.Parse($"[daemon]\ninterface = \"{daemonInterface}\"\n{rules}", "t.toml");
        Assert.True(loaded.Config is not null, string.Join("; ", loaded.Diagnostics));
        Assert.Empty(loaded.Diagnostics); // an iface other than the captured one is no longer refused: the capture widens
        return EnforcementPlan.Compile(loaded.Config, BackendKind.Nftables);
    }

    private static PacketMeta Udp(int interfaceIndex, uint source = 0xC6120101) => new()
    {
        TimestampNs = 1,
        Family = IpFamily.V4,
        Protocol = 17,
        Source = source,
        Destination = 0xC6120002,
        DestinationPort = 9000,
        IpLength = 64,
        InterfaceIndex = interfaceIndex,
    };

    private static long Seen(RuleEngine engine, string rule)
    {
        var report = engine.Report(1).Single(r => r.Name == rule);
        return report.Passed + report.Limited;
    }

    [Theory]
    [InlineData("eth0", new[] { "eth0" }, "eth0")] // the captured interface: capture stays on it
    [InlineData("eth0", new string?[] { null }, "eth0")] // no iface
    [InlineData("eth0", new[] { "eth1" }, "any")] // another interface: the capture widens to every interface
    [InlineData("eth0", new[] { "eth*" }, "any")] // a prefix
    [InlineData("any", new[] { "eth1" }, "any")] // already every interface
    public void Plan_RulesInterfaces_CaptureSeesWhatTheyNeed(string daemonInterface, string?[] ifaces, string expected)
    {
        Assert.Equal(expected, Plan(daemonInterface, ifaces).CaptureInterface);
    }

    [Fact]
    public void Process_RuleOnOneInterface_SeesOnlyItsPacketsAndTheOthersStayOnTheDaemonsInterface()
    {
        // [daemon] interface = "eth0"; r0 names vd, r1 names none: the capture is "any", r1 is held to eth0.
        var plan = Plan("eth0", "vd", null);
        Assert.Empty(plan.Observed.ResolveInterfaces(Host));
        var engine = new RuleEngine(plan.Observed, 1024);

        engine.Process(Udp(9)); // vd
        engine.Process(Udp(9));
        engine.Process(Udp(9));
        engine.Process(Udp(2)); // eth0
        engine.Process(Udp(3)); // eth1: neither rule's

        Assert.Equal(3, Seen(engine, "r0"));
        Assert.Equal(1, Report(engine, "r0").Limited); // the third over a limit of 2: only vd's packets count
        Assert.Equal(1, Seen(engine, "r1"));
    }

    [Fact]
    public void Process_Prefix_MatchesEveryInterfaceStartingWithIt()
    {
        var plan = Plan("eth0", "eth*");
        plan.Observed.ResolveInterfaces(Host);
        var engine = new RuleEngine(plan.Observed, 1024);

        foreach (var index in new[] { 1, 2, 3, 4, 9 })
        {
            engine.Process(Udp(index, 0xC6120100u + (uint)index));
        }

        Assert.Equal(2, Seen(engine, "r0")); // eth0 and eth1; not lo, veth0 or vd
    }

    [Fact]
    public void ResolveInterfaces_InterfaceGoneThenBackWithANewIndex_MatchedAgainOnceResolved()
    {
        var plan = Plan("eth0", "vd");
        var engine = new RuleEngine(plan.Observed, 1024);

        // Not there at start: named as missing, and its rule matches nothing.
        Assert.Equal(["vd"], plan.Observed.ResolveInterfaces([("lo", 1), ("eth0", 2)]));
        engine.Process(Udp(9));
        Assert.Equal(0, Seen(engine, "r0"));

        // Created: index 9.
        Assert.Empty(plan.Observed.ResolveInterfaces(Host));
        engine.Process(Udp(9));
        Assert.Equal(1, Seen(engine, "r0"));

        // Deleted and created again as index 12: the old index no longer matches; the new one does once resolved.
        plan.Observed.ResolveInterfaces([("lo", 1), ("eth0", 2), ("vd", 12)]);
        engine.Process(Udp(9));
        engine.Process(Udp(12));
        Assert.Equal(2, Seen(engine, "r0"));
    }

    [Fact]
    public void Process_UnknownInterface_MatchesNoRuleHeldToOne()
    {
        // A packet whose interface is unknown (0: a capture without cooked v2 headers) matches no rule held to one.
        var plan = Plan("eth0", "vd", null);
        plan.Observed.ResolveInterfaces(Host);
        var engine = new RuleEngine(plan.Observed, 1024);

        engine.Process(Udp(0));

        Assert.Equal(0, Seen(engine, "r0") + Seen(engine, "r1"));
    }

    private static RuleReport Report(RuleEngine engine, string rule) => engine.Report(1).Single(r => r.Name == rule);
}
