using Shaper.Control;
using Shaper.Limiting;

namespace Shaper.Daemon.Control;

/// <summary><c>counters</c>: per rule and per key, the in-process rules' counts (read on the engine thread) and the kernel's.</summary>
internal sealed class CountersHandler(ShaperService daemon) : ControlHandler
{
    public override string Command => "counters";

    public override async Task<ControlResponse> HandleAsync(ControlArgs args, CancellationToken cancel)
    {
        var ruleName = args.Text("rule");
        var top = args.Int("top") ?? int.MaxValue;
        var rules = new List<RuleCountersReply>();
        if (daemon.Engine is { } engine)
        {
            var reports = await engine.ReportAsync().ConfigureAwait(false);
            foreach (var report in reports)
            {
                if (ruleName is not null && report.Name != ruleName)
                {
                    continue;
                }

                // A fleet rule's keys also show what the store counts across every host.
                var fleet = daemon.Fleet is { } loop && loop.Rules.Contains(report.Name) ? loop.Sync.LastGrants(report.Name) : null;
                var keys = Keys(report.Keys, top, fleet);
                rules.Add(new RuleCountersReply
                {
                    Name = report.Name,
                    Enforce = daemon.Plan?.Find(report.Name)?.EnforcerName ?? "observe",
                    Passed = report.Passed,
                    Limited = report.Limited,
                    Delayed = report.Delayed,
                    KeysTracked = report.KeysTracked,
                    Evictions = report.Evictions,
                    Logged = report.Logged,
                    Keys = [.. keys],
                });
            }
        }

        var kernelQueues = Shaper.Queue.KernelQueueStats.Read();
        foreach (var (queue, shards) in Shaper.Queue.QueueReport.Merge(await daemon.Queues.ReportAsync().ConfigureAwait(false)))
        {
            if (ruleName is not null && queue.Rule != ruleName)
            {
                continue;
            }

            var numbers = shards.Select(q => q.Number).ToHashSet();
            var mine = kernelQueues.Where(k => numbers.Contains(k.Number)).ToList();
            var kernel = new Shaper.Queue.KernelQueueStats(queue.Number, 0, mine.Sum(k => k.Waiting), mine.Sum(k => k.QueueDropped), mine.Sum(k => k.UserDropped), mine.Sum(k => k.IdSequence));
            rules.Add(new RuleCountersReply
            {
                Name = queue.Rule,
                Enforce = "queue",
                Passed = queue.Passed,
                Limited = queue.Dropped + queue.DroppedAtCap,
                Delayed = queue.Delayed,
                KeysTracked = queue.KeysTracked,
                Evictions = queue.Evictions,
                Logged = 0,
                Keys = [.. Keys(queue.Keys, top)],
                Queue = new QueueCountersReply
                {
                    Number = queue.Number,
                    Held = queue.Held,
                    DroppedOverflow = queue.Dropped,
                    DroppedMaxHeld = queue.DroppedAtCap,
                    Unparsed = queue.Unparsed,
                    DelayP50Ms = queue.DelayP50Ns / 1e6,
                    DelayP99Ms = queue.DelayP99Ns / 1e6,
                    DelayMaxMs = queue.DelayMaxNs / 1e6,
                    NoBuffers = queue.NoBuffers,
                    VerdictErrors = queue.VerdictErrors,
                    KernelWaiting = kernel?.Waiting ?? 0,
                    KernelQueueDropped = kernel?.QueueDropped ?? 0,
                    KernelUserDropped = kernel?.UserDropped ?? 0,
                    KernelIdSequence = kernel?.IdSequence ?? 0,
                    Queues = shards.Count == 1 ? [] : [.. shards.Select(q => new QueueShardReply
                    {
                        Number = q.Number,
                        Passed = q.Passed,
                        Delayed = q.Delayed,
                        Limited = q.Dropped + q.DroppedAtCap,
                        Held = q.Held,
                        KeysTracked = q.KeysTracked,
                        NoBuffers = q.NoBuffers,
                        KernelIdSequence = kernelQueues.FirstOrDefault(k => k.Number == q.Number)?.IdSequence ?? 0,
                    })],
                },
            });
        }

        foreach (var (name, passed, limited) in daemon.Kernel.RuleCounters())
        {
            if (ruleName is null || ruleName == name)
            {
                rules.Add(new RuleCountersReply
                {
                    Name = name,
                    Enforce = "kernel",
                    Passed = passed,
                    Limited = limited,
                    Delayed = 0,
                    KeysTracked = 0,
                    Evictions = 0,
                    Logged = 0,
                    Keys = [],
                });
            }
        }

        return ruleName is not null && rules.Count == 0
            ? ControlResponse.Failure($"no rule named '{ruleName}'; 'shaperctl rules list' shows the running rules")
            : Reply(new CountersReply(rules), ControlJsonContext.Default.CountersReply);
    }

    /// <summary>The <paramref name="top"/> most limited keys, then the busiest; with <paramref name="fleet"/>, each key's fleet-wide figures.</summary>
    private static IEnumerable<KeyCountersReply> Keys(IEnumerable<Shaper.Engine.KeyReport> keys, int top, Dictionary<string, (Shaper.Fleet.FleetGrant Grant, TimeSpan Age)>? fleet = null) => keys
        .OrderByDescending(k => k.Counters.Limited)
        .ThenByDescending(k => k.Counters.Passed)
        .ThenBy(k => k.Key, StringComparer.Ordinal)
        .Take(top)
        .Select(k => new KeyCountersReply
        {
            Key = k.Key,
            Passed = k.Counters.Passed,
            Limited = k.Counters.Limited,
            Delayed = k.Counters.Delayed,
            Remaining = k.Remaining,
            Limit = k.Limit,
            RetryAfterMs = k.RetryAfterNs == LimitDecision.Never ? -1 : Math.Ceiling(k.RetryAfterNs / 1e6),
            State = k.State.ToString().ToLowerInvariant(),
            StateLeftMs = Math.Ceiling(k.StateLeftNs / 1e6),
            Fleet = fleet is not null && fleet.TryGetValue(k.Key, out var f)
                ? new KeyFleetReply
                {
                    Passed = (long)Math.Round(f.Grant.FleetAdmitted),
                    Remaining = (long)Math.Floor(f.Grant.Available),
                    SharePercent = Math.Round(f.Grant.Share * 100, 1),
                    Allowance = (long)Math.Floor(f.Grant.Allowance),
                    AgeMs = Math.Round(f.Age.TotalMilliseconds),
                }
                : null,
        });
}
