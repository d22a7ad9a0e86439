using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Shaper.Capture;
using Shaper.Daemon;
using Shaper.Engine;
using Shaper.Firewall;
using Shaper.Packets;
using Shaper.Rules;
using Shaper.Tests.Firewall;

namespace Shaper.Tests.Daemon;

/// <summary>The observe rules' drop sets on the daemon's side, over a recording fake nft and a clock the test sets. No root needed.</summary>
public sealed class HoldServiceTests
{
    private const string Rule = "[daemon]\ninterface = \"eth0\"\n[[rule]]\nname = \"r\"\nmatch = { proto = \"udp\" }\nalgorithm = \"sliding_log\"\nlimit = 3\nwindow = \"1s\"\nenforce = \"observe\"\naction = \"drop\"\n";

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Post_Hold_IntoTheRulesSetForTheTimeLeftAndATick()
    {
        var nft = new RecordingNft();
        using var holds = new HoldService(new NftBackend(nft), NullLogger.Instance, _time);
        holds.Prepare(ConfigLoader.Parse(Rule, "t.toml").Config!);
        // Detected 100 ms ago, held until 400 ms from now, both on the packet clock.
        holds.Post(new KeyHold("r", RuleAction.Drop, Key(0xC6120001), PacketNowNs() + 400_000_000, PacketNowNs() - 100_000_000));

        Assert.True(SpinWait.SpinUntil(() => holds.DetectToHold.Count == 1, TimeSpan.FromSeconds(30)), "the hold was not installed");
        Assert.Equal(1, holds.Installed);
        // The element's own timeout, counted when it is sent, runs 50 ms past the hold's end: the release comes first,
        // the timeout bounds a very late or lost one.
        Assert.Equal("add element inet shaper drop_r_v4 { 198.18.0.1 timeout 450ms }\n", Assert.Single(nft.Runs).Script);
        Assert.Equal(100, holds.DetectToHold.Percentile(0.5), 3);
    }

    [Fact]
    public void Post_Hold_InstallReportedToTheEnginesWhenItsTransactionAnswered()
    {
        var nft = new RecordingNft();
        using var holds = new HoldService(new NftBackend(nft), NullLogger.Instance, _time);
        holds.Prepare(ConfigLoader.Parse(Rule, "t.toml").Config!);
        var installs = holds.InstallsOf("r", RuleAction.Drop);
        var raised = PacketNowNs() - 2_000_000;
        Assert.False(installs.InBy(raised, PacketNowNs()));

        holds.Post(new KeyHold("r", RuleAction.Drop, Key(0xC6120001), PacketNowNs() + 400_000_000, raised));

        Assert.True(SpinWait.SpinUntil(() => installs.InBy(raised, PacketNowNs()), TimeSpan.FromSeconds(30)), "the install was not reported");
        Assert.False(installs.InBy(raised, PacketNowNs() - 1)); // in as of the moment it answered, not before
        Assert.Same(installs, holds.InstallsOf("r", RuleAction.Drop));
        Assert.NotSame(installs, holds.InstallsOf("r", RuleAction.Reject));
    }

    [Fact]
    public void Dispose_Twice_SecondDoesNothing()
    {
        var holds = new HoldService(new NftBackend(new RecordingNft()), NullLogger.Instance, _time);
        holds.Prepare(ConfigLoader.Parse(Rule, "t.toml").Config!);

        holds.Dispose();
        holds.Dispose(); // the daemon stops it, then the host disposes it
    }

    [Fact]
    public void Post_HoldAlreadyOver_NothingInstalled()
    {
        var nft = new RecordingNft();
        using var holds = new HoldService(new NftBackend(nft), NullLogger.Instance, _time);
        holds.Prepare(ConfigLoader.Parse(Rule, "t.toml").Config!);
        var now = PacketNowNs();

        holds.Post(new KeyHold("r", RuleAction.Drop, Key(0xC6120001), now + 500_000, now)); // less than 1 ms left
        holds.Post(new KeyHold("r", RuleAction.Drop, Key(0xC6120002), now + 50_000_000, now));

        Assert.True(SpinWait.SpinUntil(() => holds.Installed == 1, TimeSpan.FromSeconds(30)), "the hold was not installed");
        Assert.Equal("add element inet shaper drop_r_v4 { 198.18.0.2 timeout 100ms }\n", Assert.Single(nft.Runs).Script);
    }

    [Fact]
    public void Post_RuleNotPrepared_Ignored()
    {
        var nft = new RecordingNft();
        using var holds = new HoldService(new NftBackend(nft), NullLogger.Instance, _time);

        holds.Post(new KeyHold("r", RuleAction.Drop, Key(0xC6120001), PacketNowNs() + 400_000_000, PacketNowNs()));

        Assert.Equal(0, holds.Installed);
        Assert.Empty(nft.Runs);
    }

    private static HeldKey Key(uint address) => new(IpFamily.V4, address, 32, 0, KeyKind.Source);


    private long PacketNowNs() => MonotonicClock.NowNs(_time);
}
