using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;
using Shaper.Capture;
using Shaper.Engine;
using Shaper.Firewall;
using Shaper.Metrics;
using Shaper.Rules;

namespace Shaper.Daemon;

/// <summary>
/// The observe rules' drop and reject sets on the daemon's side: a key the engine holds (<see cref="RuleEngine.KeyHeld"/>)
/// goes into its rule's kernel set with a time to live that ends when the engine's hold ends, through a
/// <see cref="BlockBatcher"/> per rule (the group commit and netlink batches of the blocks; one per rule because each
/// rule has its own sets). The hold ends when the engine's does: the release thread takes the key out at that moment
/// (netlink DESTROYSETELEM), because the element's own timeout counts in jiffies (4 ms at HZ = 250) from the commit,
/// and a packet arriving in that slack would be dropped by the kernel while the limiter counts it as passed. The
/// element's own timeout, set as it is sent to its time left and a little more (<see cref="Expiring"/>), bounds a
/// release that comes late (the thread stopped by a garbage collection) or never (a daemon killed). Each release round
/// is reported to the engines (<see cref="Releases"/>), so a packet that arrived before a late release counts as held
/// there, as the kernel stopped it. Holds end on the engines' packet clock (<see cref="MonotonicClock"/>), which
/// a step or slew of the wall clock does not move. Nothing is stored:
/// a hold lasts a retry-after, and a restart starts every limiter afresh. Without nftables (backend none, iptables)
/// nothing is installed.
/// </summary>
internal sealed class HoldService : IDisposable
{
    private readonly NftBackend? _backend;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new(); // guards the batcher table between reloads and disposal
    /// <summary>
    /// How much longer than its hold an element's own timeout runs, counted when it is sent (<see cref="Expiring"/>). The
    /// release thread takes the key out at the hold's end and tells the engines when (<see cref="Releases"/>), so they
    /// count what the kernel stopped until then; the timeout only bounds a release that comes very late or never (a
    /// daemon killed). It must outlast a late release, else the kernel would let the key go at a moment known only to a
    /// jiffy (4 ms at HZ = 250, 10 ms at HZ = 100): 50 ms is ten times the release lateness measured on a 2-core machine
    /// at a load average of 15 (p99 1–1.3 ms, at most 7 ms).
    /// </summary>
    internal static readonly TimeSpan ReleaseSlack = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// How long before a hold's end its release round starts, so that the round's netlink transaction (about 0.1 ms)
    /// answers at the end rather than after it. A packet of the key that arrives between the answer and the end passes
    /// the kernel and is counted passed by the engines (<see cref="Releases"/>); the hold outlasts the limiter's
    /// retry-after by a guard far longer than this, so the limiter passes it too. One that arrives before the answer is
    /// stopped and counted held. Either way the engine counts what the kernel did; the lead makes the first rarer than
    /// the second was when rounds started at the end (0.5–1 ms late, each such packet a packet the limit allowed lost).
    /// </summary>
    private const long ReleaseLeadNs = 150_000;

    /// <summary>One jiffy at HZ = 100, the coarsest tick: an element given <see cref="ReleaseSlack"/> past its hold has left by then.</summary>
    private static readonly TimeSpan CoarsestTick = TimeSpan.FromMilliseconds(10);

    // Each key's hold end, read and written by any thread. The release thread alone keeps the schedule (_due); others
    // hand it ends through _ends and wake it. No thread holds a lock the release thread waits for: a capture or
    // bookkeeping thread preempted inside one on a busy host would make the real-time release that much late.
    private readonly PriorityQueue<(string Kind, IPNetwork Network), long> _due = new();
    private readonly ConcurrentDictionary<(string Kind, IPNetwork Network), long> _until = new();
    private readonly ConcurrentQueue<((string Kind, IPNetwork Network) Key, long AtNs)> _ends = new();
    private readonly Shaper.Interop.WakeEvent _wake = new();
    private int _woken; // 1 once _wake was set and the release thread has not yet looked
    private readonly ConcurrentDictionary<string, KernelInstalls> _installs = new(StringComparer.Ordinal);
    private readonly Thread? _releaser;
    private volatile bool _stopping;
    private int _disposed;
    private Dictionary<string, BlockBatcher> _batchers = new(StringComparer.Ordinal);
    private long _installed;
    private long _refused;
    private long _released;
    private long _lateInstalls;
    private long _reinstalled;

    /// <summary>Holds into <paramref name="backend"/>; null installs nothing.</summary>
    public HoldService(NftBackend? backend, ILogger logger, TimeProvider time)
    {
        _backend = backend;
        _logger = logger;
        _time = time;
        if (backend is not null)
        {
            Releases = new KernelReleases((long)(ReleaseSlack + CoarsestTick).TotalNanoseconds);
            _releaser = new Thread(Release) { IsBackground = true, Name = "shaper-release" };
            _releaser.Start();
        }
    }

    /// <summary>When the release rounds took keys out of the kernel, for the engines; null when nothing is installed.</summary>
    public KernelReleases? Releases { get; }

    /// <summary>Keys taken out of their set when their hold ended.</summary>
    public long Released => Interlocked.Read(ref _released);

    /// <summary>Holds the kernel took in only after they had ended, and which were taken out again at once.</summary>
    public long LateInstalls => Interlocked.Read(ref _lateInstalls);

    /// <summary>Keys held again while a release round took them out, and put back after it.</summary>
    public long Reinstalled => Interlocked.Read(ref _reinstalled);

    /// <summary>Keys put into (or kept longer in) a drop or reject set since start.</summary>
    public long Installed => Interlocked.Read(ref _installed);

    /// <summary>Keys the kernel refused since start.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>
    /// How late keys left their sets: a release round's end (its netlink transaction answered) less the earliest hold
    /// end it took out. A packet of a key that arrives in that time is dropped while its limiter passes it.
    /// </summary>
    public LatencyWindow ReleaseLateness { get; } = new(4096);

    /// <summary>Detection (the capture timestamp of the packet that crossed) to the key held in the kernel.</summary>
    public LatencyWindow DetectToHold { get; } = new(4096);

    /// <summary>
    /// Readies a batcher for every holding rule of <paramref name="config"/> (at start and on each reload, off the
    /// engine thread), and runs each once with a hold of no time so its first real hold finds it warm.
    /// </summary>
    public void Prepare(ShaperConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (_backend is not { } backend)
        {
            return;
        }

        lock (_lock)
        {
            var batchers = new Dictionary<string, BlockBatcher>(_batchers, StringComparer.Ordinal);
            foreach (var rule in config.Rules.Where(NftHoldSets.Holds))
            {
                var kind = NftHoldSets.Kind(rule);
                if (!batchers.ContainsKey(kind))
                {
                    var installs = InstallsOf(kind);
                    var sentNs = 0L; // when the batch's first transaction was sent; both callbacks run on the install thread
                    var batcher = new BlockBatcher(
                        holds =>
                        {
                            sentNs = sentNs == 0 ? NowNs() : sentNs;
                            return backend.AddHolds(kind, Expiring(kind, holds));
                        },
                        (outcomes, at) => Committed(kind, outcomes, at),
                        _time,
                        realtime: true,
                        installed: outcomes =>
                        {
                            InstallAnswered(kind, installs, outcomes, sentNs);
                            sentNs = 0;
                        });
                    batcher.Add(new BlockRequest(new IPNetwork(IPAddress.Any, 0), TimeSpan.Zero));
                    batchers[kind] = batcher;
                }
            }

            // Swapped whole: the engine thread reads the table without the lock.
            _batchers = batchers;
        }
    }

    /// <summary>
    /// The holds of a batch about to be sent, each with a time to live of its hold's time left at this moment and
    /// <see cref="ReleaseSlack"/>. Counted from the moment it is sent, not from the decision: an install that waited
    /// (a busy host, a reload holding the kernel's commit lock) would otherwise keep the element that much past its end,
    /// and the release thread, a managed thread that a garbage collection can stop for tens of milliseconds, may be
    /// late to take it out too; the element then drops packets the limiter passes for no longer than the slack.
    /// </summary>
    private List<(IPNetwork Network, TimeSpan Ttl)> Expiring(string kind, IReadOnlyList<(IPNetwork Network, TimeSpan Ttl)> holds)
    {
        var now = NowNs();
        var expiring = new List<(IPNetwork, TimeSpan)>(holds.Count);
        foreach (var (network, ttl) in holds)
        {
            if (ttl <= TimeSpan.Zero)
            {
                expiring.Add((network, ttl)); // the rehearsal
                continue;
            }

            // A key whose hold ended while its install waited goes in for the slack alone, and is taken out again at once (InstallAnswered).
            var left = _until.TryGetValue((kind, network), out var until) ? Math.Max(until - now, 0) : 0;
            expiring.Add((network, TimeSpan.FromTicks(left / 100) + ReleaseSlack));
        }

        return expiring;
    }

    /// <summary>When the kernel took in the holds of <paramref name="rule"/> with <paramref name="action"/>, for the engines.</summary>
    public KernelInstalls InstallsOf(string rule, RuleAction action) => InstallsOf(NftHoldSets.Kind(rule, action));

    private KernelInstalls InstallsOf(string kind) => _installs.GetOrAdd(kind, static _ => new KernelInstalls());

    /// <summary>
    /// On the install thread, as soon as a batch's transaction answered: tells the engines that the holds it carried are
    /// in: the latest raise among them, on the packets' clock, and <paramref name="sentNs"/>, when its first transaction
    /// was sent (a batch the kernel refused in part reports what it took). The commit falls somewhere between the send
    /// and the answer; a packet in between counts held, as the kernel may have stopped it: counted passed, one the kernel
    /// stopped would cost its key a packet its limit allows, while one counted held that got in costs the limit at most
    /// that packet. And it has the release thread take out at once a key whose hold ended while its install waited (a busy host
    /// kept the install behind the release, which found nothing to take out): its element would drop the key's packets for
    /// its whole timeout while the engine passes them. Unless a later hold of the key runs on.
    /// </summary>
    private void InstallAnswered(string kind, KernelInstalls installs, IReadOnlyList<BlockOutcome> outcomes, long sentNs)
    {
        var now = NowNs();
        var raised = long.MinValue;
        foreach (var (hold, error) in outcomes)
        {
            if (error is not null || hold.Ttl <= TimeSpan.Zero)
            {
                continue;
            }

            raised = hold.DetectedNs > 0 ? Math.Max(raised, hold.DetectedNs) : raised;
            var key = (kind, hold.Network);
            if (!_until.TryGetValue(key, out var until) || until <= now)
            {
                EndAt(key, now);
                Interlocked.Increment(ref _lateInstalls);
            }
        }

        if (raised != long.MinValue)
        {
            installs.Report(raised, sentNs);
        }
    }

    /// <summary>Now on the clock holds end by: the engines' packet clock.</summary>
    private long NowNs() => MonotonicClock.NowNs(_time);

    /// <summary>Makes <paramref name="key"/>'s hold end at <paramref name="atNs"/> and wakes the release thread.</summary>
    private void EndAt((string Kind, IPNetwork Network) key, long atNs)
    {
        _until[key] = atNs;
        _ends.Enqueue((key, atNs));
        if (Interlocked.Exchange(ref _woken, 1) == 0)
        {
            _wake.Set();
        }
    }

    /// <summary>A hold from the engine thread: only queued here.</summary>
    public void Post(KeyHold hold)
    {
        var kind = NftHoldSets.Kind(hold.Rule, hold.Action);
        if (!_batchers.TryGetValue(kind, out var batcher))
        {
            return;
        }

        var now = NowNs();
        var ttl = TimeSpan.FromTicks((hold.UntilNs - now) / 100);
        if (ttl < TimeSpan.FromMilliseconds(1))
        {
            // Over by the time it got here: the limiter passes the key again. A hold it shortens (a fleet key granted
            // again while held) ends now: the release thread takes the key out.
            foreach (var network in NftHoldSets.Networks(hold.Key))
            {
                if (_until.TryGetValue((kind, network), out var until) && until > hold.UntilNs)
                {
                    EndAt((kind, network), hold.UntilNs);
                }
            }

            return;
        }

        foreach (var network in NftHoldSets.Networks(hold.Key))
        {
            // Its end first: the install thread reads it as it sends the element (Expiring).
            EndAt((kind, network), hold.UntilNs);

            batcher.Add(new BlockRequest(network, ttl + ReleaseSlack, hold.Rule, hold.DetectedNs));
        }
    }

    /// <summary>Installs what is queued; stops the release thread (the elements left expire by their timeout).</summary>
    public void Dispose()
    {
        // Called at stop and again when the host disposes its services.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stopping = true;
        _wake.Set();
        _releaser?.Join();

        lock (_lock)
        {
            foreach (var batcher in _batchers.Values)
            {
                batcher.Dispose();
            }

            _batchers = new(StringComparer.Ordinal);
        }

        _wake.Dispose();
    }

    /// <summary>
    /// The release thread: sleeps until the earliest hold ends, then takes out every key whose hold has ended and was
    /// not extended since (a later hold of the same key moved its end), one netlink transaction per rule.
    /// </summary>
    private void Release()
    {
        // A release that comes late drops packets the limiter passes: real-time where allowed (the thread sleeps
        // between releases) while light, else ahead of other work by nice.
        var scheduling = new Threading.RealtimeThread(Threading.ThreadNice.ReleasePath, Threading.ThreadNice.EnforcementPath, _time);

        var ended = new Dictionary<string, List<IPNetwork>>(StringComparer.Ordinal);
        while (!_stopping)
        {
            Volatile.Write(ref _woken, 0);
            _wake.Reset();
            while (_ends.TryDequeue(out var end))
            {
                _due.Enqueue(end.Key, end.AtNs);
            }

            if (!_due.TryPeek(out _, out var due))
            {
                _wake.Wait(-1);
                continue;
            }

            var now = NowNs();
            if (due - ReleaseLeadNs > now)
            {
                // To the nanosecond (ppoll; a real-time thread has no timer slack), so the round answers at the end.
                _wake.Wait(due - ReleaseLeadNs - now);
                continue;
            }

            var through = now + ReleaseLeadNs; // this round takes out the keys whose hold ends by then
            var earliest = long.MaxValue; // the earliest end among the keys of this round
            while (_due.TryPeek(out var key, out var at) && at <= through)
            {
                _due.Dequeue();

                // Only if its end is still this one: a later hold of the key moved it (and queued its own end).
                if (_until.TryRemove(KeyValuePair.Create(key, at)))
                {
                    if (!ended.TryGetValue(key.Kind, out var networks))
                    {
                        ended[key.Kind] = networks = [];
                    }

                    networks.Add(key.Network);
                    earliest = Math.Min(earliest, at);
                }
            }

            var allOut = true; // every key due by now is out of the kernel
            foreach (var (kind, networks) in ended)
            {
                if (networks.Count == 0)
                {
                    continue;
                }

                if (!_backend!.TryReleaseHolds(kind, networks, out var error))
                {
                    allOut = false; // no netlink: the elements leave by their own timeout
                }
                else if (error is null)
                {
                    Interlocked.Add(ref _released, networks.Count);
                    ReleaseLateness.Add((NowNs() - earliest) / 1e6);
                    Reinstall(kind, networks);
                }
                else
                {
                    allOut = false;
                    Log.KernelFailed(_logger, $"releasing {networks.Count} keys of {kind}: {error}");
                }

                networks.Clear();
            }

            if (allOut)
            {
                // The engines count a key's packets held until the round answered: the kernel stopped those that came
                // before; and passed from then on, even a little before the hold's end.
                Releases!.Report(through, NowNs());
            }

            scheduling.Check();
        }
    }

    /// <summary>
    /// Puts back the keys of <paramref name="released"/> that were held again while the release round took them out: the
    /// new hold's install may have gone in before the round's transaction, which then took it out too.
    /// </summary>
    private void Reinstall(string kind, List<IPNetwork> released)
    {
        if (!_batchers.TryGetValue(kind, out var batcher))
        {
            return;
        }

        var now = NowNs();
        foreach (var network in released)
        {
            if (_until.TryGetValue((kind, network), out var until) && until > now)
            {
                batcher.Add(new BlockRequest(network, TimeSpan.FromTicks((until - now) / 100) + ReleaseSlack));
                Interlocked.Increment(ref _reinstalled);
            }
        }
    }

    private void Committed(string kind, IReadOnlyList<BlockOutcome> outcomes, DateTimeOffset at)
    {
        var atUnixNs = (at - DateTimeOffset.UnixEpoch).Ticks * 100;
        var refused = 0;
        string? reason = null;
        foreach (var (hold, error) in outcomes)
        {
            if (hold.Ttl <= TimeSpan.Zero)
            {
                continue; // the rehearsal
            }

            if (error is not null)
            {
                refused++;
                reason = error;
                continue;
            }

            Interlocked.Increment(ref _installed);
            if (hold.DetectedNs > 0)
            {
                DetectToHold.Add((atUnixNs - MonotonicClock.ToUnixNs(_time, hold.DetectedNs)) / 1e6);
            }
        }

        if (refused > 0)
        {
            Interlocked.Add(ref _refused, refused);
            Log.HoldsRefused(_logger, refused, kind, reason!);
        }
    }
}
