using Shaper.Engine;
using Shaper.Packets;
using Shaper.Plan;
using Shaper.Rules;

namespace Shaper.Tests.Plan;

/// <summary>A reload keeps the per-key state of every rule whose algorithm, key and limits did not change, and says which rules it reset.</summary>
public sealed class ReloadStateTests
{
    private const string Rules = """
        [daemon]
        interface = "eth0"

        [[rule]]
        name = "log30"
        match = { proto = "udp" }
        algorithm = "sliding_log"
        limit = 3
        window = "1s"
        enforce = "observe"
        """;

    [Fact]
    public void NewEngine_UnchangedRule_KeepsItsLogAndCounters()
    {
        var before = new RuleEngine(Plan(Rules).Observed, 1024);
        SendThree(before);

        var after = new RuleEngine(Plan(Rules.Replace("proto = \"udp\"", "proto = \"udp\", dport = [9000]", StringComparison.Ordinal)).Observed, 1024, previous: before);
        after.Process(Udp(0xC6120101, 500_000_000));

        // The log still holds the three arrivals of the last second: the fourth is refused, and the counts go on.
        var report = after.Report(500_000_000).Single();
        Assert.Equal(3, report.Passed);
        Assert.Equal(1, report.Limited);
    }

    [Theory]
    [InlineData("limit = 3", "limit = 4")] // limits
    [InlineData("window = \"1s\"", "window = \"2s\"")]
    [InlineData("algorithm = \"sliding_log\"", "algorithm = \"sliding_window\"")] // algorithm
    [InlineData("enforce = \"observe\"", "enforce = \"observe\"\nper = \"src/24\"")] // key
    public void NewEngine_ChangedRule_StartsFresh(string from, string to)
    {
        var before = new RuleEngine(Plan(Rules).Observed, 1024);
        SendThree(before);

        var after = new RuleEngine(Plan(Rules.Replace(from, to, StringComparison.Ordinal)).Observed, 1024, previous: before);
        after.Process(Udp(0xC6120101, 500_000_000));

        var report = after.Report(500_000_000).Single();
        Assert.Equal(1, report.Passed);
        Assert.Equal(0, report.Limited);
    }

    [Fact]
    public void NewEngine_UnchangedDropRule_KeyStaysHeldWithoutAnotherHold()
    {
        var drop = Rules + "\naction = \"drop\"\n";
        var before = new RuleEngine(Plan(drop).Observed, 1024);
        var holds = new List<KeyHold>();
        before.KeyHeld += holds.Add;
        SendThree(before);
        before.Process(Udp(0xC6120101, 300_000_000)); // the third filled the log: held until the first leaves it, at 1 s, and the guard
        Assert.Equal(1_000_000_000 + RuleEngine.HoldGuardNs, Assert.Single(holds).UntilNs);

        var after = new RuleEngine(Plan(drop).Observed, 1024, previous: before);
        after.KeyHeld += holds.Add;
        after.Process(Udp(0xC6120101, 500_000_000));

        // The new engine knows the key is in the drop set: the kernel stops its packets, so they count as held, and
        // the set is not asked again. A fresh hold table would refuse it by the log and hold it a second time.
        Assert.Single(holds);
        Assert.Equal(1, after.HoldsTracked);
        Assert.Equal(KeyState.Dropped, after.Report(500_000_000).Single().Keys.Single().State);
    }

    [Fact]
    public void NewEngine_UnchangedLogRule_KeyNotLoggedAgainInTheSameWindow()
    {
        var log = Rules + "\naction = \"log\"\n";
        var before = new RuleEngine(Plan(log).Observed, 1024);
        var notices = new List<OverLimitNotice>();
        before.KeyOverLimit += notices.Add;
        SendThree(before);
        before.Process(Udp(0xC6120101, 300_000_000));
        Assert.Single(notices);

        var after = new RuleEngine(Plan(log).Observed, 1024, previous: before);
        after.KeyOverLimit += notices.Add;
        after.Process(Udp(0xC6120101, 400_000_000)); // the same one-second window
        Assert.Single(notices);

        after.Process(Udp(0xC6120101, 1_050_000_000)); // over again in the next window: logged again
        after.Process(Udp(0xC6120101, 1_060_000_000));
        after.Process(Udp(0xC6120101, 1_070_000_000));
        after.Process(Udp(0xC6120101, 1_080_000_000));
        Assert.Equal(2, notices.Count);
    }

    [Fact]
    public void Resets_ChangedAndUnchangedRules_NamesOnlyTheChangedWithWhy()
    {
        var before = Plan(Rules + "\n[[rule]]\nname = \"ssh\"\nrate = \"10/minute\"\nburst = 5\n");
        var after = Plan(Rules.Replace("limit = 3", "limit = 30", StringComparison.Ordinal) + "\n[[rule]]\nname = \"ssh\"\nrate = \"10/minute\"\nburst = 5\nmatch = { proto = \"tcp\" }\n[[rule]]\nname = \"new\"\nrate = \"1/s\"\nburst = 1\n");

        Assert.Equal([("log30", "limit 3 -> 30")], LimiterChange.Resets(before, after));
    }

    private static void SendThree(RuleEngine engine)
    {
        for (var i = 0; i < 3; i++)
        {
            engine.Process(Udp(0xC6120101, i * 100_000_000L));
        }
    }

    private static EnforcementPlan Plan(string text)
    {
        var loaded = ConfigLoader.Parse(text, "t.toml");
        Assert.False(loaded.HasErrors, string.Join("\n", loaded.Diagnostics));
        return EnforcementPlan.Compile(loaded.Config!, BackendKind.Nftables);
    }

    private static PacketMeta Udp(uint source, long t) => new()
    {
        TimestampNs = t,
        Family = IpFamily.V4,
        Protocol = 17,
        Source = source,
        Destination = 0xC6120002,
        DestinationPort = 9000,
        IpLength = 60,
    };
}
