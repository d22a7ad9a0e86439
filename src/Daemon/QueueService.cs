using Microsoft.Extensions.Logging;
using Shaper.Firewall;
using Shaper.Plan;
using Shaper.Queue;

namespace Shaper.Daemon;

/// <summary>
/// The queue rules as a lifetime: a <see cref="QueueWorker"/> per rule and queue (<c>[daemon] queues</c> per rule, the
/// kernel keeping each key on one of them, so every key is on one thread), and the iptables chain that sends the rules' packets to their queues. A reload keeps the worker
/// (and its held packets and key state) of a rule whose limiter, action and mode did not change; any other worker is
/// let go gracefully, every held packet accepted first. A stop lets every worker go, then takes the chain out unless
/// <c>keep_on_stop</c> (the chain's bypass then lets packets through while no daemon listens).
/// </summary>
internal sealed class QueueService(ILogger logger, TimeProvider time, IIptablesRunner iptables, INftRunner nft, IReadOnlyList<Feature> features) : IDisposable
{
    private readonly Lock _lock = new(); // a reload and the counters' reads of the worker list
    private List<QueueWorker> _workers = [];
    private HeldBudget _budget = new(1);
    private bool _installed;
    private bool _nftChain;

    /// <summary>The running workers.</summary>
    public IReadOnlyList<QueueWorker> Workers
    {
        get
        {
            lock (_lock)
            {
                return [.. _workers];
            }
        }
    }

    /// <summary>Packets held now over every queue, and the cap.</summary>
    public (int Held, int Max) Held => (_budget.Held, _budget.Capacity);

    /// <summary>Starts the plan's queue rules; null on success, else why (the workers started are let go again).</summary>
    public string? Apply(EnforcementPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (FeatureProbe.QueuesRefusal(features, plan) is { } refused)
        {
            return refused;
        }

        lock (_lock)
        {
            // A rule keeps its workers (their held packets and keys) only all together: same queues, same limiter, none failed.
            var keep = new List<QueueWorker>();
            var stop = new List<QueueWorker>();
            foreach (var worker in _workers)
            {
                var next = plan.QueueRules.FirstOrDefault(q => q.Rule.Name == worker.Rule.Rule.Name);
                var same = next is not null && next.Number == worker.Rule.Number && next.Queues == worker.Rule.Queues
                    && LimiterChange.Reason(worker.Rule.Rule, next.Rule) is null
                    && next.Rule.Action == worker.Rule.Rule.Action && next.Rule.Mode == worker.Rule.Rule.Mode
                    && plan.Config.Daemon.MaxHeld == _budget.Capacity
                    && _workers.All(w => w.Rule.Rule.Name != worker.Rule.Rule.Name || w.Failure is null);
                (same ? keep : stop).Add(worker);
            }

            foreach (var worker in stop)
            {
                Stop(worker);
            }

            if (keep.Count == 0)
            {
                _budget = new HeldBudget(plan.Config.Daemon.MaxHeld);
            }

            var started = new List<QueueWorker>();
            foreach (var rule in plan.QueueRules.Where(q => !keep.Any(w => w.Rule.Rule.Name == q.Rule.Name)))
            {
                // The rule's queues share max_keys, as they share its keys (one key, one queue).
                var maxKeys = rule.Queues == 1 ? plan.Config.Daemon.MaxKeys : Math.Max(1024, (plan.Config.Daemon.MaxKeys + rule.Queues - 1) / rule.Queues);
                for (var shard = 0; shard < rule.Queues; shard++)
                {
                    if (QueueWorker.Start(rule, maxKeys, _budget, time, out var error, Failed, shard: shard) is not { } worker)
                    {
                        started.ForEach(Stop);
                        _workers = keep;
                        return error;
                    }

                    Log.QueueStarted(logger, rule.Rule.Name, rule.Number + shard);
                    started.Add(worker);
                }
            }

            _workers = [.. keep, .. started];
            return Install(plan);
        }
    }

    /// <summary>
    /// Null while every worker serves its queue and answered the last probe; else why not (the first that does not).
    /// The watchdog asks: a dead or stuck queue thread stops its pings, and systemd restarts the daemon.
    /// </summary>
    public string? Probe()
    {
        string? why = null;
        foreach (var worker in Workers)
        {
            why ??= worker.Probe();
        }

        return why;
    }

    /// <summary>The queue rules' counters, each read on its worker's thread.</summary>
    public async Task<IReadOnlyList<QueueReport>> ReportAsync()
    {
        var reports = new List<QueueReport>();
        foreach (var worker in Workers)
        {
            reports.Add(await worker.ReportAsync().ConfigureAwait(false));
        }

        return reports;
    }

    /// <summary>Lets every queue go (held packets accepted first), then removes the chain unless <paramref name="keepRules"/>.</summary>
    public void Stop(bool keepRules)
    {
        lock (_lock)
        {
            foreach (var worker in _workers)
            {
                Stop(worker);
            }

            _workers = [];
            if (!keepRules && _nftChain)
            {
                _ = nft.Run(NftQueueScript.Remove()); // fails harmlessly when the table is gone already
                _nftChain = false;
            }

            if (!keepRules)
            {
                foreach (var v4 in new[] { true, false })
                {
                    var save = iptables.Save(v4);
                    if (save.Ok && IptablesQueueScript.Remove(save.Output) is { Length: > 0 } script && iptables.Restore(v4, script) is { Ok: false } failed)
                    {
                        Log.QueueRulesFailed(logger, failed.Error.Trim());
                    }
                }
            }
        }
    }

    public void Dispose() => Stop(keepRules: true);

    /// <summary>A worker stopped serving its queue for a fault (on its thread): said at once; a reload starts it again.</summary>
    private void Failed(QueueWorker worker) => Log.QueueFailed(logger, worker.Rule.Rule.Name, worker.Number, worker.Failure ?? "no reason");

    private void Stop(QueueWorker worker)
    {
        var held = worker.Held;
        var failed = worker.Failure is not null;
        worker.Dispose();
        if (!failed && worker.Failure is { } failure)
        {
            Log.QueueFailed(logger, worker.Rule.Rule.Name, worker.Number, failure);
        }

        Log.QueueStopped(logger, worker.Rule.Rule.Name, worker.Number, held);
    }

    private string? Install(EnforcementPlan plan)
    {
        // No queue rule now and none before: iptables is not touched (it may not even be installed).
        if (plan.QueueRules.Count == 0 && !_installed)
        {
            return null;
        }

        _installed = true;

        // nft's queue statement where the kernel has it and nft holds the kernel rules; else iptables' NFQUEUE target.
        // Never both: a packet accepted from the one queue would be queued again by the other.
        var viaNft = plan.QueueRules.Count > 0 && FeatureProbe.NftQueueUsable(features, plan.Backend);
        if (viaNft || _nftChain)
        {
            var script = viaNft ? NftQueueScript.Apply(plan, _nftChain) : NftQueueScript.Remove();
            var result = nft.Run(script);
            if (!result.Ok && viaNft)
            {
                var why = $"the queue rules' nft chain was refused: {result.Error.Trim()}";
                Log.QueueRulesFailed(logger, why);
                return why;
            }

            _nftChain = viaNft;
        }

        foreach (var v4 in new[] { true, false })
        {
            var save = iptables.Save(v4);
            if (!save.Ok)
            {
                return plan.QueueRules.Count == 0 || viaNft ? null : $"iptables-save failed: {save.Error.Trim()}";
            }

            var script = viaNft ? IptablesQueueScript.Remove(save.Output) : IptablesQueueScript.Apply(plan, v4, save.Output);
            if (script.Length > 0 && iptables.Restore(v4, script) is { Ok: false } failed)
            {
                var why = $"the queue rules' NFQUEUE chain was refused ({(v4 ? "iptables" : "ip6tables")}): {failed.Error.Trim()}";
                Log.QueueRulesFailed(logger, why);
                return why;
            }
        }

        return null;
    }
}
