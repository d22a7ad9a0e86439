using Shaper.Metrics;

namespace Shaper.Daemon;

/// <summary>The Prometheus endpoint's content.</summary>
internal sealed partial class ShaperService
{
    private PrometheusWriter CollectMetrics()
    {
        var w = new PrometheusWriter();
        IReadOnlyList<Engine.RuleReport> reports = [];
        if (_engine is { } runner)
        {
            // The engine thread builds the report between packets; a stuck engine must not hang the scrape.
            var query = runner.ReportAsync();
            if (query.Wait(TimeSpan.FromSeconds(2)))
            {
                reports = query.Result;
            }
        }
        foreach (var r in reports)
        {
            w.Counter("shaper_rule_passed_total", "Packets an in-process rule let through at once.", r.Passed, ("rule", r.Name));
        }

        foreach (var r in reports)
        {
            w.Counter("shaper_rule_limited_total", "Packets an in-process rule limited (soft rules count what they would have).", r.Limited, ("rule", r.Name));
        }

        foreach (var r in reports)
        {
            w.Counter("shaper_rule_delayed_total", "Packets a queue rule let through later.", r.Delayed, ("rule", r.Name));
        }

        foreach (var r in reports)
        {
            w.Counter("shaper_rule_logged_total", "Over-limit lines a logging or soft rule wrote (at most one per key per window).", r.Logged, ("rule", r.Name));
        }

        foreach (var r in reports)
        {
            w.Gauge("shaper_limiter_keys", "Keys a rule's limiter table tracks now.", r.KeysTracked, ("rule", r.Name));
            w.Gauge("shaper_limiter_keys_max", "Keys a rule's limiter table holds at most, per address family.", _config.Daemon.MaxKeys, ("rule", r.Name));
        }

        foreach (var r in reports)
        {
            w.Counter("shaper_limiter_evictions_total", "Keys evicted to make room in a full limiter table.", r.Evictions, ("rule", r.Name));
        }

        // Each queue's worker builds its report between packets; a stuck one must not hang the scrape either.
        var queueQuery = _queues.ReportAsync();
        var queues = queueQuery.Wait(TimeSpan.FromSeconds(2)) ? queueQuery.Result : [];
        var kernelQueues = Shaper.Queue.KernelQueueStats.Read();
        // One family after another: the exposition format wants each family's samples together.
        void PerQueue(string name, string help, bool counter, Func<Shaper.Queue.QueueReport, double> value, (string, string)? label = null)
        {
            foreach (var q in queues)
            {
                // Labelled by queue too: with [daemon] queues > 1 a rule has several.
                var number = ("queue", q.Number.ToString(System.Globalization.CultureInfo.InvariantCulture));
                (string, string)[] labels = label is { } extra ? [("rule", q.Rule), number, extra] : [("rule", q.Rule), number];
                _ = counter ? w.Counter(name, help, value(q), labels) : w.Gauge(name, help, value(q), labels);
            }
        }

        foreach (var worker in _queues.Workers)
        {
            w.Gauge("shaper_queue_up", "1 while the queue's thread serves it, 0 once it failed (its bypass passes the rule's packets unshaped).", worker.State == "running" ? 1 : 0, ("rule", worker.Rule.Rule.Name), ("queue", worker.Number.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        PerQueue("shaper_queue_passed_total", "Packets a queue rule accepted on arrival.", true, q => q.Passed);
        PerQueue("shaper_queue_delayed_total", "Packets a queue rule held and accepted at their slot.", true, q => q.Delayed);
        PerQueue("shaper_queue_dropped_total", "Packets a queue rule dropped, by reason.", true, q => q.Dropped, ("reason", "overflow"));
        PerQueue("shaper_queue_dropped_total", "Packets a queue rule dropped, by reason.", true, q => q.DroppedAtCap, ("reason", "max_held"));
        PerQueue("shaper_queue_held", "Packets a queue rule holds now.", false, q => q.Held);
        PerQueue("shaper_queue_delay_seconds", "Hold time of the last released packets.", false, q => q.DelayP50Ns / 1e9, ("quantile", "0.5"));
        PerQueue("shaper_queue_delay_seconds", "Hold time of the last released packets.", false, q => q.DelayP99Ns / 1e9, ("quantile", "0.99"));
        PerQueue("shaper_queue_delay_max_seconds", "The longest hold time since the queue started.", false, q => q.DelayMaxNs / 1e9);
        PerQueue("shaper_queue_enobufs_total", "Receives that failed with ENOBUFS (the socket buffer overflowed).", true, q => q.NoBuffers);
        PerQueue("shaper_nfqueue_waiting", "Packets the kernel holds for the queue now (/proc/net/netfilter/nfnetlink_queue).", false, q => Kernel(q)?.Waiting ?? 0);
        PerQueue("shaper_nfqueue_queue_dropped_total", "The kernel's count of packets that found the queue full.", true, q => Kernel(q)?.QueueDropped ?? 0);
        PerQueue("shaper_nfqueue_user_dropped_total", "The kernel's count of packets lost because the socket buffer was full.", true, q => Kernel(q)?.UserDropped ?? 0);
        PerQueue("shaper_nfqueue_packets_total", "The kernel's last packet id: packets queued since the queue was bound.", true, q => Kernel(q)?.IdSequence ?? 0);
        Shaper.Queue.KernelQueueStats? Kernel(Shaper.Queue.QueueReport q) => kernelQueues.FirstOrDefault(k => k.Number == q.Number);

        foreach (var (rule, passed, dropped) in _kernel.RuleCounters())
        {
            w.Counter("shaper_kernel_rule_passed_total", "Packets a kernel rule let through.", passed, ("rule", rule));
            w.Counter("shaper_kernel_rule_limited_total", "Packets a kernel rule limited.", dropped, ("rule", rule));
        }

        foreach (var (set, elements, size) in _kernel.Blocks.SetFill())
        {
            // nft fails open when a dynamic set is full: watch the fill.
            w.Gauge("shaper_set_elements", "Elements in a kernel set.", elements, ("set", set));
            w.Gauge("shaper_set_size", "The kernel set's size.", size, ("set", set));
            w.Gauge("shaper_set_fill_ratio", "Elements over size; at 1 the set fails open.", size == 0 ? 0 : (double)elements / size, ("set", set));
        }

        var capture = _capture?.Stats;
        w.Counter("shaper_capture_packets_total", "Packets libpcap delivered.", capture?.Received ?? 0);
        w.Counter("shaper_capture_dropped_total", "Packets libpcap's buffer dropped.", capture?.PcapDropped ?? 0);
        w.Counter("shaper_capture_interface_dropped_total", "Packets the interface dropped, as libpcap reports.", capture?.InterfaceDropped ?? 0);
        w.Gauge("shaper_capture_up", "1 while capture runs, 0 while it retries a lost or missing interface.", _capture is { Running: true } ? 1 : 0);
        w.Counter("shaper_capture_losses_total", "Times capture was lost after running.", _capture?.Losses ?? 0);
        w.Counter("shaper_engine_packets_total", "Packets the engine processed.", _engine?.Processed ?? 0);
        w.Gauge("shaper_capture_realtime_threads", "Capture threads running real-time now (they step down while busy).", _engine?.RealtimeThreads ?? 0);
        w.Counter("shaper_capture_realtime_stepdowns_total", "Times a capture thread stepped down from real-time because it was busy.", _engine?.RealtimeStepDowns ?? 0);
        if (_plan?.Observed.Cap is not null && _engine is { } engine)
        {
            w.Counter("shaper_global_limited_total", "Captured packets of observe rules over the [global] cap, once per rule (a hard rule's the kernel dropped).", engine.Lanes.Sum(l => l.Engine.GlobalLimited));
        }

        w.Gauge("shaper_apply_duration_seconds", "How long the last kernel apply took.", _lastApplyMs / 1000);
        w.Counter("shaper_reloads_total", "Reloads by result.", Interlocked.Read(ref _reloadsOk), ("result", "success"));
        w.Counter("shaper_reloads_total", "Reloads by result.", Interlocked.Read(ref _reloadsFailed), ("result", "failure"));
        w.Gauge("shaper_detect_to_block_seconds", "Detection to block in the kernel, over the last 4096 blocks.", _kernel.Blocks.DetectToBlock.Percentile(0.5) / 1000, ("quantile", "0.5"));
        w.Gauge("shaper_detect_to_block_seconds", "Detection to block in the kernel, over the last 4096 blocks.", _kernel.Blocks.DetectToBlock.Percentile(0.99) / 1000, ("quantile", "0.99"));
        w.Counter("shaper_netlink_fallbacks_total", "Block batches netlink refused that nft text installed instead.", _kernel.NetlinkFallbacks.Count);
        foreach (var (kind, count) in _kernel.Repairs)
        {
            w.Counter("shaper_kernel_repairs_total", "Differences between the kernel and the shaper's state, repaired, by kind.", count, ("kind", kind));
        }

        w.Counter("shaper_blocks_refused_total", "Blocks the kernel refused (the caller was told why).", _kernel.Blocks.Refused.Count);
        w.Gauge("shaper_blocks", "Blocks recorded (in the kernel and on disk, or waiting to be saved).", _kernel.Blocks.Count);
        w.Counter("shaper_blocks_over_max_total", "Observe-rule blocks refused at max_blocks.", _kernel.Blocks.OverCap);
        w.Gauge("shaper_block_store_backlog", "Block changes waiting in memory because saving them failed; retried with backoff.", _kernel.Blocks.StoreBacklog);
        w.Gauge("shaper_dependency_up", "1 when a dependency works, 0 when its breaker is open.", _kernel.Healthy ? 1 : 0, ("dependency", "kernel"));
        if (_fleet is { } fleet)
        {
            CollectFleet(w, fleet);
        }

        return w;
    }

    private static void CollectFleet(PrometheusWriter w, FleetLoop fleet)
    {
        var s = fleet.Sync.Status();
        w.Gauge("shaper_dependency_up", "1 when a dependency works, 0 when its breaker is open.", s.Shared ? 1 : 0, ("dependency", "fleet_store"));
        foreach (var rule in fleet.Rules)
        {
            w.Gauge("shaper_fleet_rule_shared", "1 while a fleet rule's limit is shared through the store, 0 while this host enforces its share (limit / hosts).", s.Shared ? 1 : 0, ("rule", rule));
        }

        foreach (var state in (ReadOnlySpan<Shaper.Fleet.BreakerState>)[Shaper.Fleet.BreakerState.Closed, Shaper.Fleet.BreakerState.Open, Shaper.Fleet.BreakerState.HalfOpen, Shaper.Fleet.BreakerState.Disabled, Shaper.Fleet.BreakerState.ForcedOpen])
        {
            w.Gauge("shaper_fleet_breaker_state", "1 for the fleet store breaker's current state.", s.Breaker.State == state ? 1 : 0, ("state", FleetLoop.Name(state)));
        }

        w.Counter("shaper_fleet_breaker_transitions_total", "Fleet store breaker transitions.", s.Breaker.Transitions);
        w.Counter("shaper_fleet_calls_total", "Store call attempts by outcome (slow counts calls longer than the slow-call duration, successful or not).", s.Breaker.Successful, ("outcome", "success"));
        w.Counter("shaper_fleet_calls_total", "Store call attempts by outcome (slow counts calls longer than the slow-call duration, successful or not).", s.Breaker.Failed, ("outcome", "failure"));
        w.Counter("shaper_fleet_calls_total", "Store call attempts by outcome (slow counts calls longer than the slow-call duration, successful or not).", s.Breaker.Slow, ("outcome", "slow"));
        w.Counter("shaper_fleet_calls_total", "Store call attempts by outcome (slow counts calls longer than the slow-call duration, successful or not).", s.Breaker.NotPermitted, ("outcome", "not_permitted"));
        w.Counter("shaper_fleet_retries_total", "Store call retries.", s.Retries);
        w.Gauge("shaper_fleet_retry_quota", "Retry quota tokens left (of 500; a retry costs 5, after a timeout 10).", s.QuotaLeft);
        w.Counter("shaper_fleet_syncs_total", "Sync rounds by result.", s.Syncs - s.SyncFailures, ("result", "success"));
        w.Counter("shaper_fleet_syncs_total", "Sync rounds by result.", s.SyncFailures, ("result", "failure"));
        w.Gauge("shaper_fleet_sync_seconds", "Sync round latency (one pipelined batch), over the last 1024 rounds.", double.IsNaN(s.SyncP50Ms) ? 0 : s.SyncP50Ms / 1000, ("quantile", "0.5"));
        w.Gauge("shaper_fleet_sync_seconds", "Sync round latency (one pipelined batch), over the last 1024 rounds.", double.IsNaN(s.SyncP99Ms) ? 0 : s.SyncP99Ms / 1000, ("quantile", "0.99"));
        w.Gauge("shaper_fleet_keys_per_sync", "Keys the last sync round sent.", s.LastKeys);
        w.Gauge("shaper_fleet_carried_keys", "Keys whose hits wait for the store to return.", s.CarriedKeys);
        w.Counter("shaper_fleet_dropped_hits_total", "Hits that could not be kept for the store (over the carried-keys cap).", s.DroppedHits);
    }
}
