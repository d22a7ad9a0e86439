using System.Runtime.CompilerServices;
using Shaper.Fleet;
using Shaper.Limiting;
using Shaper.Packets;
using Shaper.Queue;
using Shaper.Rules;

namespace Shaper.Engine;

/// <summary>
/// Runs a <see cref="CompiledRuleSet"/>'s limiters over packets, in the packets' own time. Rules apply
/// in file order and every matching rule sees the packet, except that a packet a hard kernel or queue
/// rule limits is gone, as it would be from the kernel's path, so later rules do not see it. An observe
/// rule over its limit acts through the kernel:
/// <list type="bullet">
/// <item><c>action = "block"</c>: the source is blocked for <c>block_for</c>; its packets are then dropped before
/// any rule (the kernel block set) and counted as limited by that rule.</item>
/// <item><c>action = "drop"</c> or <c>"reject"</c>: the key goes into the rule's kernel drop or reject set as soon as
/// a packet it passes leaves it at its limit (its next packet would be refused), or when one is refused, for its
/// limiter's retry-after and a guard of <see cref="HoldGuardNs"/> (<see cref="KeyHeld"/>). While it is there the kernel stops the rule's packets
/// of that key before any rule; capture still sees them, and they count against the key as limited, but never as
/// arrivals: the kernel refused them, so a sliding log does not log them and a bucket gives them no tokens (they
/// would change no algorithm's state anyway). While the limiter would go on refusing past the set's time, the key
/// is held longer, at most once per half of the time it was last given, never once per packet. A packet of a held key
/// that arrived before the kernel had the key (<see cref="Installs"/>) got in: it counts as passed and is charged to the
/// key's limiter whatever its limit (<see cref="Slipped"/>), and the hold runs on for as long as that makes the key
/// refuse.</item>
/// <item>The <c>[global]</c> cap (<see cref="Plan.GlobalCap"/>): each packet a rule matches draws from the rule set's
/// one bucket, shared with the other engines of the set, before the rule's own limit; over it a hard rule's packet
/// is gone (the kernel dropped it) and counted in <see cref="GlobalLimited"/>, never against the rule; a soft rule's
/// is counted there and goes on to the rule's limit.</item>
/// <item><c>action = "log"</c>, and every <c>mode = "soft"</c> rule (which enforces nothing): one
/// <see cref="KeyOverLimit"/> per key per window (the rule's window; one second for bucket rules).</item>
/// </list>
/// Single-threaded: one engine per engine thread.
/// </summary>
public sealed class RuleEngine
{
    /// <summary>
    /// The keys a rule's table starts with, per address family, in the daemon, its queues and a replay alike (a larger
    /// value is cut to the rule's maximum where the table is made); a full table
    /// doubles, up to the maximum, and only then evicts. The keys a rule has seen then sit close together: with 10,000
    /// sources that each come back once a second, a table of the maximum size (262,144 keys, 10.5 MB) spread them a
    /// cold cache line apart, and the capture thread spent 0.6–1.1 µs a packet, against 0.26–0.28 µs in a table grown
    /// to fit them (three alternating runs at 10,000 packets/s).
    /// </summary>
    public const int InitialKeysPerRule = 1 << 12;

    /// <summary>The shortest hold worth a kernel element: nft times out elements in milliseconds.</summary>
    private const long MinHoldNs = 1_000_000;

    /// <summary>
    /// How long past the limiter's retry-after a hold lasts, in the engine, in the kernel and in a replay alike. The
    /// kernel takes the key out of its set a little late (the release thread's wake-up and one netlink transaction,
    /// about 1 ms), and a sender as regular as the window (one whose packet a second later meets the slot its earlier
    /// packet frees) arrives in that slack half of the time: the kernel drops that packet. The engine knows it
    /// (<see cref="Releases"/>) and counts it held, but a replay, which has no kernel, would pass it, and the two
    /// would go on from different logs. With the guard the packet is held everywhere, and the log gives its slot to the
    /// key's next packet. 5 ms covers the release lateness measured on a 2-core machine at a load average of 14 (p99
    /// about 1 ms, mostly under 5 ms); it costs a limit at most guard ÷ window of its rate (0.5% of a 1 s window).
    /// Measured without it on a quiet machine: 2 of 3 runs of 20 sources over a sliding log let 8 to 11 packets more
    /// through per source than the replay predicted.
    /// </summary>
    internal const long HoldGuardNs = 5_000_000;

    /// <summary>A hold's run start once a packet showed its key in the kernel: no later packet needs to ask again.</summary>
    private const long KnownInstalled = long.MinValue;

    private readonly CompiledRuleSet _rules;
    private readonly KeyedRuleLimiter[] _limiters;
    private readonly RuleTotals[] _totals;
    private readonly int _maxKeysPerRule;
    private readonly KeyDeadlines _blocks;
    private readonly KeyDeadlines _holds;
    private readonly KeyDeadlines _notices;
    private readonly int[] _blockingRules;
    private readonly int[] _holdingRules;
    private readonly GlobalBucket? _global;
    private readonly FleetGate?[]? _fleet;
    private readonly int[]? _inheritFrom; // per rule, the previous engine's index of the same rule kept across a reload, or -1
    private RuleEngine? _inherit; // the engine this one replaced, until its holds, blocks and log windows are taken over
    private KernelInstalls?[]? _installs; // per rule, its set's install record (from Installs, looked up on first need)
    private long[]? _slipped; // per rule, the number (Packets) of the packet that got past its hold before the kernel had it

    /// <summary>
    /// Creates an engine with at most <paramref name="maxKeysPerRule"/> keys per rule and address family; key
    /// tables start at <paramref name="initialKeysPerRule"/> (by default the maximum, so memory is fixed up front; the
    /// daemon and replay pass <see cref="InitialKeysPerRule"/>).
    /// A reload passes the running engine as <paramref name="previous"/>: each rule whose name, enforcer, algorithm,
    /// key and limits did not change (<see cref="Plan.LimiterChange"/>) takes over its key table and totals (tokens,
    /// windows, logs, counters), so a reload hands no key a fresh burst, and, on this engine's first packet or report,
    /// which of its keys are in a kernel set and which were logged in this window, so a held key stays held and a
    /// logged key is not logged again. The previous engine must see no packet after this one sees its first (the
    /// capture thread swaps them between packets).
    /// </summary>
    public RuleEngine(CompiledRuleSet rules, int maxKeysPerRule, int initialKeysPerRule = 0, RuleEngine? previous = null)
    {
        ArgumentNullException.ThrowIfNull(rules);
        _rules = rules;
        _maxKeysPerRule = maxKeysPerRule;
        var count = rules.Rules.Length;
        _limiters = new KeyedRuleLimiter[count];
        _totals = new RuleTotals[count];
        _blocks = new KeyDeadlines(count, maxKeysPerRule);
        _holds = new KeyDeadlines(count, maxKeysPerRule);
        _notices = new KeyDeadlines(count, maxKeysPerRule);
        // The cap's bucket is the set's, shared by every lane's engine; a reload that keeps the cap keeps its bucket.
        _global = previous?._global is { } keptBucket && keptBucket.Cap.SameBucket(rules.Cap) ? keptBucket : rules.Global;
        GlobalLimited = _global is not null && ReferenceEquals(_global, previous?._global) ? previous!.GlobalLimited : 0;
        var blocking = new List<int>();
        var holding = new List<int>();
        for (var i = 0; i < count; i++)
        {
            if (previous?.Kept(rules.Rules[i].Rule, maxKeysPerRule) is { } kept)
            {
                _limiters[i] = previous._limiters[kept];
                _totals[i] = previous._totals[kept];
                (_inheritFrom ??= CreateMap(count))[i] = kept;
                _inherit = previous;
            }
            else
            {
                // A fleet rule's own limiter runs at this host's share: the store's grants decide above it.
                var limited = rules.Config.Fleet is { } fleetSettings ? FleetShare.Of(rules.Rules[i].Rule, fleetSettings.Hosts) : rules.Rules[i].Rule;
                _limiters[i] = LimiterFactory.Create(limited, initialKeysPerRule > 0 ? initialKeysPerRule : maxKeysPerRule, maxKeysPerRule);
                _totals[i] = new RuleTotals();
            }

            if (rules.Rules[i].Rule.Scope == RuleScope.Fleet && rules.Config.Fleet is { } fleet)
            {
                _fleet ??= new FleetGate?[count];

                // A reload that keeps the rule (and the sync) keeps its gate: the keys' grants, and their hits and demand
                // not yet harvested for the store.
                _fleet[i] = _inheritFrom?[i] is >= 0 and var from && previous!._fleet?[from] is { } keptGate && keptGate.SyncNs == fleet.Sync.Ticks * 100
                    ? keptGate
                    : new FleetGate(rules.Rules[i].Rule, fleet.Hosts, maxKeysPerRule, fleet.Sync.Ticks * 100);
            }

            if (rules.Rules[i].Blocks)
            {
                blocking.Add(i);
            }

            if (rules.Rules[i].Holds)
            {
                holding.Add(i);
            }
        }

        _blockingRules = [.. blocking];
        _holdingRules = [.. holding];

        // The first block or hold would otherwise JIT its path and grow its table on the engine thread, in the
        // middle of the packets that cross a limit together, and delay every detection behind it. Nobody
        // listens to the events yet, so this rehearsal blocks and holds nothing.
        foreach (var family in (ReadOnlySpan<IpFamily>)[IpFamily.V4, IpFamily.V6])
        {
            var probe = new PacketMeta { Family = family, TimestampNs = 1 };
            if (_blockingRules.Length > 0)
            {
                _blocks.Reserve(4096);
                Block(_blockingRules[0], probe);
                _ = IsBlocked(probe with { TimestampNs = long.MaxValue }); // past the block's end: takes it out, counts nothing
            }

            if (_holdingRules.Length > 0)
            {
                _holds.Reserve(4096);
                Hold(_holdingRules[0], probe, MinHoldNs);
            }
        }

        _blocks.Clear();
        _holds.Clear();
    }

    /// <summary>Packets seen.</summary>
    public long Packets { get; private set; }

    /// <summary>Packets whose source is on the allow list.</summary>
    public long Allowed { get; private set; }

    /// <summary>Bytes the rules' key tables hold now: they grow with the keys seen, up to the maximum.</summary>
    internal long KeyTableBytes => _limiters.Sum(l => l.MemoryBytes);

    /// <summary>Packets dropped by a block before any rule.</summary>
    public long Blocked { get; private set; }

    /// <summary>Packets a rule's kernel drop or reject set stopped before any rule.</summary>
    public long Held { get; private set; }

    /// <summary>
    /// Packets over the <c>[global]</c> cap, counted once per rule they matched over it (as the kernel's
    /// <c>c_global_limited</c>); carried over from the previous engine when a reload keeps the cap.
    /// </summary>
    public long GlobalLimited { get; private set; }

    /// <summary>
    /// Raised when a key is blocked: the rule, the source address (in <see cref="PacketMeta"/> encoding) and
    /// its family, the prefix length the block covers (the rule's source prefix, such as 24 for <c>per = "src/24"</c>;
    /// else the whole address), the block's length, and the timestamp of the packet that crossed the limit.
    /// </summary>
    public event Action<string, IpFamily, UInt128, int, long, long>? KeyBlocked;

    /// <summary>Raised when a key goes into its rule's kernel drop or reject set, must stay there longer, or (a fleet key granted again) may leave it sooner.</summary>
    public event Action<KeyHold>? KeyHeld;

    /// <summary>Raised at most once per key per window when a logging or soft rule limits the key.</summary>
    public event Action<OverLimitNotice>? KeyOverLimit;

    /// <summary>
    /// When the kernel let held keys go. With it (the live daemon), a packet of a key whose hold has ended but that
    /// arrived before the kernel took the key out of its set counts as held, as the kernel stopped it; without it
    /// (replay, or no kernel sets), a hold ends exactly at its end.
    /// </summary>
    public KernelReleases? Releases { get; init; }

    /// <summary>
    /// When the kernel took each holding rule's keys in, by rule name and action. With it (the live daemon), a packet of
    /// a held key that arrived before the kernel had the key counts as passed and is charged to its limiter, as it got
    /// in; without it (replay, or no kernel sets), a hold stops packets from the one after the packet that raised it.
    /// </summary>
    public Func<string, RuleAction, KernelInstalls?>? Installs { get; init; }

    /// <summary>
    /// <c>[daemon] max_held</c> over the queue rules, for a replay (null in the daemon, whose queues decide their own
    /// packets): a packet a queue rule would hold while the cap's packets are held is dropped and counted limited
    /// (<see cref="RuleReport.DroppedMaxHeld"/>).
    /// </summary>
    public HeldTimeline? HeldCap { get; init; }

    /// <summary>
    /// Packets that got past a rule's kernel set before their key's hold was installed (capture ran behind, or the
    /// install was slow): counted as passed and charged to the key's limiter, whatever its limit. A reload that keeps a
    /// rule carries the count on.
    /// </summary>
    public long Slipped { get; private set; }

    /// <summary>Blocks the engine remembers (to drop their packets before any rule); at most the key table's size.</summary>
    public int BlocksTracked => _blocks.Count;

    /// <summary>Keys the engine holds in kernel drop and reject sets; at most the key table's size.</summary>
    public int HoldsTracked => _holds.Count;

    /// <summary>True when a rule has <c>scope = "fleet"</c>: the sync exchanges its keys with the store.</summary>
    public bool HasFleetRules => _fleet is not null;

    /// <summary>
    /// Whether the store answers: true, fleet keys go by their grants; false (while the store is away),
    /// each host enforces its share. Set between packets, on the engine thread.
    /// </summary>
    public void SetFleetShared(bool shared)
    {
        foreach (var gate in _fleet ?? [])
        {
            gate?.Shared = shared;
        }
    }

    /// <summary>Moves each fleet key's hits and demand since the last harvest into <paramref name="into"/>; between packets, on the engine thread.</summary>
    public void HarvestFleet(List<FleetDelta> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        for (var i = 0; i < (_fleet?.Length ?? 0); i++)
        {
            _fleet![i]?.Harvest(_rules.Rules[i].Rule.Name, into);
        }
    }

    /// <summary>Gives each fleet key its grant from one exchange, at <paramref name="nowNs"/> on the packets' clock; between packets, on the engine thread.</summary>
    public void ApplyFleet(IReadOnlyList<FleetGrant> grants, long nowNs)
    {
        ArgumentNullException.ThrowIfNull(grants);
        for (var i = 0; i < (_fleet?.Length ?? 0); i++)
        {
            if (_fleet![i] is { } gate)
            {
                var name = _rules.Rules[i].Rule.Name;
                var regranted = new List<HeldKey>();
                gate.Apply(grants.Where(g => g.Rule == name), nowNs, regranted);

                // A key held for a spent grant that a new grant lets pass again: released now (the kernel's release
                // thread takes it out when the shortened hold ends), not when the hold would have ended.
                foreach (var key in regranted)
                {
                    if (_holds.TryGet(i, key, out var hold) && hold.UntilNs > nowNs + MinHoldNs)
                    {
                        _holds.Set(i, key, hold.SinceNs, nowNs + MinHoldNs, nowNs);
                        var compiled = _rules.Rules[i].Rule;
                        KeyHeld?.Invoke(new KeyHold(compiled.Name, compiled.Action, key, nowNs + MinHoldNs, nowNs));
                    }
                }
            }
        }
    }

    /// <summary>Per fleet rule: keys tracked, packets decided by grants and by the local share, packets of untracked keys.</summary>
    public IReadOnlyList<(string Rule, int Keys, long GrantDecided, long ShareDecided, long Untracked)> FleetReport()
    {
        var report = new List<(string, int, long, long, long)>();
        for (var i = 0; i < (_fleet?.Length ?? 0); i++)
        {
            if (_fleet![i] is { } gate)
            {
                report.Add((_rules.Rules[i].Rule.Name, gate.Keys, gate.GrantDecided, gate.ShareDecided, gate.Untracked));
            }
        }

        return report;
    }

    /// <summary>Decides one packet under every rule it matches.</summary>
    public void Process(in PacketMeta packet)
    {
        if (_inherit is not null)
        {
            Inherit();
        }

        Packets++;
        var rules = _rules.Rules;
        if (_rules.IsAllowed(packet))
        {
            Allowed++;
            return;
        }

        if (_blocks.Count > 0 && IsBlocked(packet))
        {
            Blocked++;
            return;
        }

        if (_holds.Count > 0 && IsHeld(packet))
        {
            Held++;
            return;
        }

        for (var i = 0; i < rules.Length; i++)
        {
            var rule = rules[i];
            if (!rule.Matcher.Matches(packet))
            {
                continue;
            }

            if (_global is { } global && !global.TryTake(packet.TimestampNs, global.Cap.CostsBytes ? packet.IpLength : 1))
            {
                GlobalLimited++;
                if (rule.Rule.Mode == RuleMode.Hard)
                {
                    return;
                }
            }

            var cost = rule.CostsBytes ? packet.IpLength : 1;
            if (_slipped is not null && _slipped[i] == Packets)
            {
                // The key is held, but the kernel did not have it yet when this packet came: it got in. Charged to the
                // key whatever its limit, so its next packets wait for it; its hold runs on for as long as that makes
                // the key refuse.
                Slipped++;
                _totals[i].Passed++;
                Hold(i, packet, _fleet?[i] is { } slippedGate ? slippedGate.Charge(packet, cost, _limiters[i]) : _limiters[i].Charge(packet, cost), extend: true);
                continue;
            }

            var next = 0L; // for a packet rule that holds: how long the key would refuse its next packet
            var decision = _fleet?[i] is { } gate ? gate.Decide(packet, cost, _limiters[i])
                : rule.Holds && !rule.CostsBytes ? _limiters[i].Decide(packet, cost, out next)
                : _limiters[i].Decide(packet, cost);
            ref var totals = ref _totals[i];
            switch (decision.Outcome)
            {
                case LimitOutcome.Passed:
                    totals.Passed++;
                    if (rule.Holds && !rule.CostsBytes && _fleet?[i] is null)
                    {
                        // A packet that leaves its key at the limit: the next one would be refused, but would pass the
                        // kernel before a hold raised by its refusal is in. Held now, the set stops it; exactly for as
                        // long as the limiter would refuse it. (A byte rule's next packet may be smaller, so it waits.)
                        Hold(i, packet, next);
                    }
                    else if (rule.Holds && _fleet?[i] is { HoldAfterPassNs: > 0 } spent)
                    {
                        // The packet spent its key's fleet grant: held now, the kernel stops the next one.
                        Hold(i, packet, spent.HoldAfterPassNs);
                    }

                    continue;
                case LimitOutcome.Delayed when HeldCap is not { } cap || cap.TryHold(packet.TimestampNs, packet.TimestampNs + decision.DelayNs):
                    totals.Delayed++;
                    continue;
                case LimitOutcome.Delayed:
                    // max_held packets are held already: the daemon's queue drops it (its key's slot stays taken, as
                    // there), and so does a replay.
                    totals.DroppedMaxHeld++;
                    break;
            }

            totals.Limited++;
            if (rule.Notices)
            {
                Notice(i, packet);
            }

            if (rule.Blocks)
            {
                Block(i, packet);
                return;
            }

            if (rule.Holds)
            {
                // This packet was captured on its way in and has passed; the set stops the ones after it.
                Hold(i, packet, decision.DelayNs);
            }

            if (rule.Stops)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Starts loading the key table slots <paramref name="packet"/> will need, for a caller that holds packets a
    /// few places ahead of the one it processes (replay's batches): the cache misses of large key tables then
    /// overlap instead of stalling one packet at a time. Decides and counts nothing.
    /// </summary>
    public void Prefetch(in PacketMeta packet)
    {
        var limiters = _limiters;
        for (var i = 0; i < limiters.Length; i++)
        {
            limiters[i].Prefetch(packet);
        }
    }

    /// <summary>Every rule's totals and keys at <paramref name="nowNs"/>, each key with the kernel set it is in, if any.</summary>
    public IReadOnlyList<RuleReport> Report(long nowNs)
    {
        if (_inherit is not null)
        {
            Inherit();
        }

        var reports = new RuleReport[_limiters.Length];
        for (var i = 0; i < reports.Length; i++)
        {
            var limiter = _limiters[i];
            var rule = i;
            reports[i] = new RuleReport(
                _rules.Rules[i].Rule.Name,
                _totals[i].Passed,
                _totals[i].Limited,
                _totals[i].Delayed,
                limiter.KeysTracked,
                limiter.Evictions,
                limiter.Report(nowNs, key => StateOf(rule, key, nowNs)),
                _totals[i].Logged,
                _rules.Rules[i].Rule.Enforce == EnforceKind.Queue ? _totals[i].DroppedMaxHeld : null);
        }

        return reports;
    }

    /// <summary>Where <paramref name="key"/> of <paramref name="rule"/> stands at <paramref name="nowNs"/>: in a set (and for how long) or open.</summary>
    private (KeyState State, long LeftNs) StateOf(int rule, HeldKey key, long nowNs)
    {
        var compiled = _rules.Rules[rule];
        if (compiled.Holds && _holds.TryGet(rule, key, out var hold) && nowNs < hold.UntilNs)
        {
            return (compiled.Rule.Action == RuleAction.Reject ? KeyState.Rejected : KeyState.Dropped, hold.UntilNs - nowNs);
        }

        // A block covers the source (its prefix for per = "src/N"): the key of a source or source-and-port rule.
        if (compiled.Blocks && key.Kind is KeyKind.Source or KeyKind.SourceAndDport
            && _blocks.TryGet(rule, key with { Port = 0, Kind = KeyKind.Source }, out var block) && nowNs < block.UntilNs)
        {
            return (KeyState.Blocked, block.UntilNs - nowNs);
        }

        return (KeyState.Open, 0);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // optimized from the first packet after the first block
    private bool IsBlocked(in PacketMeta packet)
    {
        foreach (var i in _blockingRules)
        {
            var key = BlockKey(i, packet);
            if (_blocks.TryGet(i, key, out var block))
            {
                if (packet.TimestampNs < block.UntilNs)
                {
                    _totals[i].Limited++;
                    _limiters[i].CountBlocked(packet);
                    return true;
                }

                _blocks.Remove(i, key);
            }
        }

        return false;
    }

    /// <summary>
    /// True when a rule's kernel drop or reject set holds the packet's key: the kernel stops the packet before any
    /// rule. It counts as limited against the key, and the key is held longer when its limiter would refuse it past
    /// the set's time and less than half the time last given is left.
    /// </summary>
    private bool IsHeld(in PacketMeta packet)
    {
        var rules = _rules.Rules;
        foreach (var i in _holdingRules)
        {
            var rule = rules[i];
            if (_holds.CountOf(i) == 0 || !rule.Matcher.Matches(packet))
            {
                continue;
            }

            var key = HeldKey.Of(rule.Rule.Per, packet);
            if (!_holds.TryGet(i, key, out var hold))
            {
                continue;
            }

            // Over when it ended, or, in the live daemon, when the kernel let the key go: its release round may answer
            // a little before the end (and the limiter, whose retry-after the guard outlasts, passes the packet) or after it.
            var now = packet.TimestampNs;
            if (Releases is { } releases ? !releases.StillStops(hold.UntilNs, now) : now >= hold.UntilNs)
            {
                _holds.Remove(i, key);
                continue;
            }

            if (!KernelHas(i, key, hold, now))
            {
                // Past the kernel before its hold went in: the rule charges it (Process).
                (_slipped ??= new long[rules.Length])[i] = Packets;
                continue;
            }

            _totals[i].Limited++;
            var cost = rule.CostsBytes ? packet.IpLength : 1;
            var retry = _limiters[i].Refuse(packet, cost).DelayNs;
            if (_fleet?[i] is { } gate)
            {
                retry = gate.CountHeld(packet, cost, retry);
            }

            if (retry != LimitDecision.Never
                && now + retry > hold.UntilNs + MinHoldNs
                && (hold.UntilNs - now) * 2 < hold.UntilNs - hold.SinceNs)
            {
                Hold(i, packet, retry, extend: true);
            }

            return true;
        }

        return false;
    }

    /// <summary>
    /// True when the kernel had <paramref name="key"/>'s hold of <paramref name="rule"/> in its set at
    /// <paramref name="atNs"/>: its first install committed by then (<see cref="Installs"/>), or nothing reports installs.
    /// </summary>
    private bool KernelHas(int rule, in HeldKey key, (long SinceNs, long UntilNs, long StartNs) hold, long atNs)
    {
        if (hold.StartNs == KnownInstalled || Installs is null)
        {
            return true;
        }

        _installs ??= new KernelInstalls?[_rules.Rules.Length];
        var installs = _installs[rule] ??= Installs(_rules.Rules[rule].Rule.Name, _rules.Rules[rule].Rule.Action);
        if (installs is null)
        {
            return true;
        }

        if (!installs.InBy(hold.StartNs, atNs))
        {
            return false;
        }

        _holds.Set(rule, key, hold.SinceNs, hold.UntilNs, atNs, KnownInstalled);
        return true;
    }

    /// <summary>
    /// Puts the packet's key of <paramref name="rule"/> into the rule's kernel set for <paramref name="retryAfterNs"/>, or,
    /// to <paramref name="extend"/> a hold that runs, keeps it there that much longer (never shorter).
    /// </summary>
    private void Hold(int rule, in PacketMeta packet, long retryAfterNs, bool extend = false)
    {
        // A key that can never pass at this cost is not held (a smaller packet may pass); one that passes again
        // within a millisecond is not worth a kernel element.
        if (retryAfterNs == LimitDecision.Never || retryAfterNs < MinHoldNs)
        {
            return;
        }

        var compiled = _rules.Rules[rule];
        var key = HeldKey.Of(compiled.Rule.Per, packet);
        var now = packet.TimestampNs;
        var until = now + retryAfterNs + HoldGuardNs;
        long? start = null;
        if (extend && _holds.TryGet(rule, key, out var running))
        {
            if (running.UntilNs >= until)
            {
                return;
            }

            start = running.StartNs;
        }

        // When the table is full of live holds the key is not held: the kernel set, sized alike, would be full too,
        // and raising a hold that is not remembered would raise one per packet.
        if (_holds.Set(rule, key, now, until, now, start))
        {
            KeyHeld?.Invoke(new KeyHold(compiled.Rule.Name, compiled.Rule.Action, key, until, now));
        }
    }

    /// <summary>Raises <see cref="KeyOverLimit"/> for the packet's key unless it was raised in this window already.</summary>
    private void Notice(int rule, in PacketMeta packet)
    {
        var compiled = _rules.Rules[rule];
        var key = HeldKey.Of(compiled.Rule.Per, packet);
        var now = packet.TimestampNs;
        var window = now / compiled.NoticeWindowNs;
        if (_notices.TryGet(rule, key, out var last) && last.SinceNs == window)
        {
            return;
        }

        // Remembered until the window ends; when the table is full of current windows, nothing is logged rather
        // than a line per packet.
        if (!_notices.Set(rule, key, window, (window + 1) * compiled.NoticeWindowNs, now))
        {
            return;
        }

        _totals[rule].Logged++;
        if (KeyOverLimit is { } handler)
        {
            var counters = _limiters[rule].CountersOf(packet);
            handler(new OverLimitNotice(compiled.Rule.Name, compiled.Rule.Action, compiled.Rule.Mode, key, counters.Limited, counters.Passed, compiled.NoticeWindowNs, now));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the first attack runs it a thousand times at once
    private void Block(int rule, in PacketMeta packet)
    {
        var compiled = _rules.Rules[rule];
        var key = BlockKey(rule, packet);

        // When the table is full the kernel's block set holds the block alone; the engine goes on counting the key.
        _blocks.Set(rule, key, packet.TimestampNs, packet.TimestampNs + compiled.BlockForNs, packet.TimestampNs);
        KeyBlocked?.Invoke(compiled.Rule.Name, packet.Family, key.Address, key.PrefixLength, compiled.BlockForNs, packet.TimestampNs);
    }

    /// <summary>The source prefix a block covers: the rule's source prefix, or the address for other keys.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // every packet's lookup once any key is blocked
    private HeldKey BlockKey(int rule, in PacketMeta packet)
    {
        var per = _rules.Rules[rule].Rule.Per;
        var isSourcePrefix = per.Kind == KeyKind.Source;
        return packet.Family == IpFamily.V4
            ? new HeldKey(IpFamily.V4, packet.Source & AddressSet.Mask4(isSourcePrefix ? per.V4Prefix : 32), isSourcePrefix ? per.V4Prefix : 32, 0, KeyKind.Source)
            : new HeldKey(IpFamily.V6, packet.Source & AddressSet.Mask6(isSourcePrefix ? per.V6Prefix : 128), isSourcePrefix ? per.V6Prefix : 128, 0, KeyKind.Source);
    }

    private static int[] CreateMap(int count)
    {
        var map = new int[count];
        Array.Fill(map, -1);
        return map;
    }

    /// <summary>
    /// Takes over the kept rules' holds, blocks and log windows from the engine this one replaced, on the capture
    /// thread, once: the previous engine has seen its last packet, so its tables no longer change.
    /// </summary>
    private void Inherit()
    {
        var previous = _inherit!;
        _inherit = null;
        if (previous._inherit is not null)
        {
            previous.Inherit(); // replaced before it saw a packet: its own predecessor's state first
        }

        Slipped += previous.Slipped;

        for (var i = 0; i < _inheritFrom!.Length; i++)
        {
            if (_inheritFrom[i] is var from and >= 0)
            {
                _holds.CopyRule(previous._holds, from, i);
                _blocks.CopyRule(previous._blocks, from, i);
                _notices.CopyRule(previous._notices, from, i);
            }
        }
    }

    /// <summary>The index of this engine's rule whose state <paramref name="rule"/> may keep, or null.</summary>
    private int? Kept(Rules.Rule rule, int maxKeysPerRule)
    {
        if (maxKeysPerRule != _maxKeysPerRule)
        {
            return null;
        }

        var rules = _rules.Rules;
        for (var i = 0; i < rules.Length; i++)
        {
            if (rules[i].Rule.Name == rule.Name)
            {
                return Plan.LimiterChange.Reason(rules[i].Rule, rule) is null ? i : null;
            }
        }

        return null;
    }

    /// <summary>A class, so a reload can hand one rule's totals to the next engine by reference.</summary>
    private sealed class RuleTotals
    {
        public long Passed;
        public long Limited;
        public long Delayed;
        public long Logged;
        public long DroppedMaxHeld;
    }
}
