using Shaper.Engine;
using Shaper.Packets;

namespace Shaper.Replay;

/// <summary>
/// Replays packets through a rule set with the packets' own timestamps as the clock: the same input
/// gives the same result every run. Replay runs each rule's algorithm whatever its <c>enforce</c>, so a
/// kernel rule can be previewed.
/// </summary>
public static class ReplayRunner
{
    /// <summary>Keys tracked per rule and address family during a replay.</summary>
    public const int DefaultKeysPerRule = 1 << 20;

    /// <summary>
    /// Runs <paramref name="source"/> through <paramref name="rules"/>. <paramref name="progress"/> is called
    /// with the packets read so far about once a second of wall time (as <paramref name="time"/> tells), not
    /// at all for inputs that take less than a second.
    /// </summary>
    public static ReplayResult Run(
        CompiledRuleSet rules,
        IReplaySource source,
        TimeProvider time,
        Action<long>? progress = null,
        int keysPerRule = DefaultKeysPerRule)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(time);
        var engine = new RuleEngine(rules, keysPerRule);
        var started = time.GetTimestamp();
        var nextReport = TimeSpan.FromSeconds(1);
        long lastTimestamp = 0;
        long count = 0;
        while (source.TryRead(out var packet))
        {
            engine.Process(packet);
            lastTimestamp = packet.TimestampNs;
            if ((++count & 0xFFFF) == 0 && progress is not null && time.GetElapsedTime(started) >= nextReport)
            {
                progress(count);
                nextReport = time.GetElapsedTime(started) + TimeSpan.FromSeconds(1);
            }
        }

        return new ReplayResult(engine.Report(lastTimestamp), engine.Packets, engine.Allowed, source.Counters);
    }
}
