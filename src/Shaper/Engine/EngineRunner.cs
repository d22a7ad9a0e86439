using Shaper.Capture;
using Shaper.Metrics;

namespace Shaper.Engine;

/// <summary>
/// The live daemon's engines: one <see cref="RuleEngine"/> per capture thread (<see cref="CaptureLane"/>), each
/// deciding the packets its thread reads, with its own key tables. A reload hands every lane a new engine; reports
/// run on each lane's thread between blocks and are merged here (every key lives on one lane, so totals add up and
/// keys do not repeat). Time is monotonic (<see cref="MonotonicClock"/>), as the lanes stamp packets.
/// </summary>
public sealed class EngineRunner : IDisposable
{
    private readonly CaptureLane[] _lanes;
    private readonly TimeProvider _time;

    /// <summary>Starts <paramref name="lanes"/> capture threads, lane <c>i</c> with engine <c>engines(i)</c>.</summary>
    public EngineRunner(int lanes, Func<int, RuleEngine> engines, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(lanes, 1);
        ArgumentNullException.ThrowIfNull(engines);
        _time = time;
        _lanes = new CaptureLane[lanes];
        for (var i = 0; i < lanes; i++)
        {
            _lanes[i] = new CaptureLane(i, engines(i), time, BufferWait);
        }
    }

    /// <summary>How long the first packet of each batch waited in the kernel's buffer (ms), over the last 4096 batches of every lane.</summary>
    public LatencyWindow BufferWait { get; } = new(4096);

    /// <summary>The capture threads, for <see cref="LiveCapture"/> to attach sockets to.</summary>
    public IReadOnlyList<CaptureLane> Lanes => _lanes;

    /// <summary>Packets decided, over every lane and every engine it has run.</summary>
    public long Processed
    {
        get
        {
            long sum = 0;
            foreach (var lane in _lanes)
            {
                sum += lane.Processed;
            }

            return sum;
        }
    }

    /// <summary>Capture threads running real-time now (see <see cref="CaptureLane.Realtime"/>).</summary>
    public int RealtimeThreads => _lanes.Count(l => l.Realtime);

    /// <summary>Times a capture thread stepped down from real-time because it was busy, over every lane.</summary>
    public long RealtimeStepDowns => _lanes.Sum(l => l.RealtimeStepDowns);

    /// <summary>Frames the lanes could not parse (not IP, truncated, malformed).</summary>
    public long FramesSkipped
    {
        get
        {
            long sum = 0;
            foreach (var lane in _lanes)
            {
                sum += lane.Frames.Skipped;
            }

            return sum;
        }
    }

    /// <summary>Now on the packets' clock (monotonic nanoseconds), for reports between packets.</summary>
    public long NowNs => MonotonicClock.NowNs(_time);

    /// <summary>Swaps in new engines (a reload): lane <c>i</c> gets <c>engines(i)</c>, built on the caller's thread.</summary>
    public void Swap(Func<int, RuleEngine> engines)
    {
        ArgumentNullException.ThrowIfNull(engines);
        foreach (var lane in _lanes)
        {
            lane.Swap(engines(lane.Index));
        }
    }

    /// <summary>Runs <paramref name="query"/> on every lane's thread against its current engine; one result per lane.</summary>
    public Task<T[]> QueryAllAsync<T>(Func<RuleEngine, T> query) =>
        Task.WhenAll(_lanes.Select(l => l.QueryAsync(query)));

    /// <summary>Every rule's totals and keys now, merged over the lanes.</summary>
    public async Task<IReadOnlyList<RuleReport>> ReportAsync()
    {
        var now = NowNs;
        var reports = await QueryAllAsync(engine => engine.Report(now)).ConfigureAwait(false);
        return Merge(reports);
    }

    /// <summary>Null when every lane's thread runs and answered the last probe; else why not (see <see cref="CaptureLane.Probe"/>).</summary>
    public string? Probe()
    {
        string? why = null;
        foreach (var lane in _lanes)
        {
            why ??= lane.Probe();
        }

        return why;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var lane in _lanes)
        {
            lane.Dispose();
        }
    }

    /// <summary>Adds up per-lane reports rule by rule (the lanes run the same rules in the same order).</summary>
    internal static IReadOnlyList<RuleReport> Merge(IReadOnlyList<IReadOnlyList<RuleReport>> perLane)
    {
        if (perLane.Count == 1)
        {
            return perLane[0];
        }

        var merged = new RuleReport[perLane[0].Count];
        for (var rule = 0; rule < merged.Length; rule++)
        {
            var first = perLane[0][rule];
            long passed = 0, limited = 0, delayed = 0, evictions = 0;
            var keysTracked = 0;
            var keys = new List<KeyReport>();
            foreach (var lane in perLane)
            {
                var report = lane[rule];
                passed += report.Passed;
                limited += report.Limited;
                delayed += report.Delayed;
                keysTracked += report.KeysTracked;
                evictions += report.Evictions;
                keys.AddRange(report.Keys);
            }

            merged[rule] = new RuleReport(first.Name, passed, limited, delayed, keysTracked, evictions, keys);
        }

        return merged;
    }
}
