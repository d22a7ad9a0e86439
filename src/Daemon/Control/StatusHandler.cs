using Shaper.Control;

namespace Shaper.Daemon.Control;

/// <summary><c>status</c>: the daemon's state, read without waiting on the engine or the kernel.</summary>
internal sealed class StatusHandler(ShaperService daemon) : ControlHandler
{
    public override string Command => "status";

    public override Task<ControlResponse> HandleAsync(ControlArgs args, CancellationToken cancel)
    {
        var capture = daemon.Capture?.Stats;
        var kernel = daemon.Kernel;
        var fallbacks = kernel.NetlinkFallbacks;
        var repairs = kernel.Repairs;
        var reply = new StatusReply
        {
            Version = typeof(ShaperService).Assembly.GetName().Version?.ToString(3),
            Config = daemon.Arguments.ConfigPath,
            Rules = daemon.Config.Rules.Count,
            KernelRules = daemon.Plan?.KernelRules.Count ?? 0,
            ObserveRules = daemon.Plan?.ObservedRules.Count ?? 0,
            Backend = kernel.BackendName,
            Kernel = kernel.State,
            Capture = daemon.Capture is null ? "off" : daemon.Capture.Interface,
            CaptureFilter = daemon.CaptureFilter,
            Captured = capture?.Received ?? 0,
            CaptureDropped = (capture?.PcapDropped ?? 0) + (capture?.InterfaceDropped ?? 0),
            HandoffDropped = 0,
            EnginePackets = daemon.Engine?.Processed ?? 0,
            Blocks = kernel.Blocks.Count,
            KernelReinstalls = repairs["table"],
            NetlinkFallbacks = fallbacks.Count,
            NetlinkLastError = fallbacks.LastError,
            DetectToBlockCount = kernel.Blocks.DetectToBlock.Count,
            DetectToBlockP50Ms = Round(kernel.Blocks.DetectToBlock.Percentile(0.50)),
            DetectToBlockP99Ms = Round(kernel.Blocks.DetectToBlock.Percentile(0.99)),
            DetectToBlockHops = Hops(kernel.Blocks.Hops),
            ReloadsOk = daemon.ReloadsOk,
            ReloadsFailed = daemon.ReloadsFailed,
            LastApplyMs = Math.Round(daemon.LastApplyMs, 2),
            UptimeS = (long)daemon.Uptime.TotalSeconds,
            BlocksRefused = kernel.Blocks.Refused.Count,
            BlocksLastRefusal = kernel.Blocks.Refused.Last,
            BlocksOverMax = kernel.Blocks.OverCap,
            Store = kernel.Blocks.StoreState,
            StoreBacklog = kernel.Blocks.StoreBacklog,
            KernelRepairs = repairs.Values.Sum(),
            KernelRepairsByKind = repairs,
            CaptureState = daemon.Capture is null ? "off" : daemon.Capture.Running ? "running" : "retrying",
            CaptureError = daemon.Capture?.LastError,
            CaptureRetries = daemon.Capture?.Retries ?? 0,
            CaptureLosses = daemon.Capture?.Losses ?? 0,
            CaptureThreads = daemon.Engine?.Lanes.Count ?? 0,
            CaptureRealtimeThreads = daemon.Engine?.RealtimeThreads ?? 0,
            CaptureRealtimeStepDowns = daemon.Engine?.RealtimeStepDowns ?? 0,
            CaptureFanout = daemon.Capture?.Fanout.ToString(),
            CaptureWaitP50Ms = Round(daemon.Engine?.BufferWait.Percentile(0.50) ?? double.NaN),
            CaptureWaitP99Ms = Round(daemon.Engine?.BufferWait.Percentile(0.99) ?? double.NaN),
            EngineHealthy = daemon.Unhealthy is null,
            EngineUnhealthy = daemon.Unhealthy,
            HoldsInstalled = kernel.Holds.Installed,
            HoldsRefused = kernel.Holds.Refused,
            HoldsLate = kernel.Holds.LateInstalls,
            HoldsReinstalled = kernel.Holds.Reinstalled,
            HoldsSlipped = daemon.Engine?.Lanes.Sum(l => l.Engine.Slipped) ?? 0,
            HoldReleaseLateP99Ms = Round(kernel.Holds.ReleaseLateness.Percentile(0.99)),
            HoldReleaseLateMaxMs = Round(kernel.Holds.ReleaseLateness.Percentile(1.0)),
            DetectToHoldP50Ms = Round(kernel.Holds.DetectToHold.Percentile(0.50)),
            DetectToHoldP99Ms = Round(kernel.Holds.DetectToHold.Percentile(0.99)),
            LastReloadError = daemon.LastReloadFailure is { } failed ? $"{failed.Trigger}: {failed.Reason}" : null,
            LastReloadErrorAt = daemon.LastReloadFailure?.At.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
            GlobalLimited = daemon.Plan?.Observed.Cap is null ? null : daemon.Engine?.Lanes.Sum(l => l.Engine.GlobalLimited) ?? 0,
            Queues = [.. daemon.Queues.Workers.Select(w => new QueueStateReply { Rule = w.Rule.Rule.Name, Number = w.Number, State = w.State, Error = w.Failure })],
            Fleet = daemon.Fleet is { } fleet ? FleetStatusReply.Of(fleet) : null,
            GcCollections = GC.CollectionCount(0),
            GcPauseTotalMs = Math.Round(GC.GetTotalPauseDuration().TotalMilliseconds, 3),
        };
        return Task.FromResult(Reply(reply, ControlJsonContext.Default.StatusReply));
    }

    /// <summary>p50 and p99 of each hop of detection to block; empty before the first block.</summary>
    private static Dictionary<string, double> Hops(BlockHops hops)
    {
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        if (hops.Capture.Count == 0)
        {
            return values;
        }

        foreach (var (name, window) in new[] { ("capture", hops.Capture), ("queue", hops.Queue), ("commit", hops.Commit) })
        {
            values[name + "_p50_ms"] = Round(window.Percentile(0.50));
            values[name + "_p99_ms"] = Round(window.Percentile(0.99));
        }

        values["batch_p50"] = Round(hops.BatchSize.Percentile(0.50));
        values["batch_p99"] = Round(hops.BatchSize.Percentile(0.99));
        return values;
    }

    /// <summary>Milliseconds to three places; -1 while there is no sample.</summary>
    private static double Round(double value) => double.IsNaN(value) ? -1 : Math.Round(value, 3);
}
