using Shaper.Limiting;
using Shaper.Packets;

namespace Shaper.Engine;

/// <summary>
/// Runs a <see cref="CompiledRuleSet"/>'s limiters over packets, in the packets' own time. Rules apply
/// in file order and every matching rule sees the packet, except that a packet a hard kernel or queue
/// rule limits is gone, as it would be from the kernel's path, so later rules do not see it. A key
/// that an observe rule with <c>action = "block"</c> limits is blocked for <c>block_for</c>: its
/// packets are then dropped before any rule (the kernel block set) and counted as limited by that rule.
/// Single-threaded: one engine per engine thread.
/// </summary>
public sealed class RuleEngine
{
    private readonly CompiledRuleSet _rules;
    private readonly KeyedRuleLimiter[] _limiters;
    private readonly RuleTotals[] _totals;
    private readonly Dictionary<(int Rule, UInt128 Key), long> _blockedUntil = [];
    private readonly int[] _blockingRules;
    private readonly int _maxBlocked;
    private long _nextSweepNs;

    /// <summary>
    /// Creates an engine with at most <paramref name="maxKeysPerRule"/> keys per rule and address family; key
    /// tables start at <paramref name="initialKeysPerRule"/> (by default the maximum, so memory is fixed up front).
    /// </summary>
    public RuleEngine(CompiledRuleSet rules, int maxKeysPerRule, int initialKeysPerRule = 0)
    {
        ArgumentNullException.ThrowIfNull(rules);
        _rules = rules;
        _limiters = new KeyedRuleLimiter[rules.Rules.Length];
        _totals = new RuleTotals[rules.Rules.Length];
        var blocking = new List<int>();
        for (var i = 0; i < _limiters.Length; i++)
        {
            _limiters[i] = LimiterFactory.Create(rules.Rules[i].Rule, initialKeysPerRule > 0 ? initialKeysPerRule : maxKeysPerRule, maxKeysPerRule);
            if (rules.Rules[i].Blocks)
            {
                blocking.Add(i);
            }
        }

        _blockingRules = [.. blocking];
        _maxBlocked = maxKeysPerRule;
        if (_blockingRules.Length > 0)
        {
            // The first block would otherwise JIT the block path and grow the table on the engine thread, in the
            // middle of the packets that cross a limit together, and delay every detection behind it. Nobody
            // listens to KeyBlocked yet, so this rehearsal blocks nothing.
            _blockedUntil.EnsureCapacity(Math.Min(maxKeysPerRule, 4096));
            Block(_blockingRules[0], new PacketMeta { Family = IpFamily.V4 });
            Block(_blockingRules[0], new PacketMeta { Family = IpFamily.V6 });
            _blockedUntil.Clear();
        }
    }

    /// <summary>Packets seen.</summary>
    public long Packets { get; private set; }

    /// <summary>Packets whose source is on the allow list.</summary>
    public long Allowed { get; private set; }

    /// <summary>Packets dropped by a block before any rule.</summary>
    public long Blocked { get; private set; }

    /// <summary>
    /// Raised when a key is blocked: the rule, the source address (in <see cref="PacketMeta"/> encoding) and
    /// its family, the prefix length the block covers (the rule's source prefix, such as 24 for <c>per = "src/24"</c>;
    /// else the whole address), the block's length, and the timestamp of the packet that crossed the limit.
    /// </summary>
    public event Action<string, IpFamily, UInt128, int, long, long>? KeyBlocked;

    /// <summary>Blocks the engine remembers (to drop their packets before any rule); at most the key table's size.</summary>
    public int BlocksTracked => _blockedUntil.Count;

    /// <summary>Decides one packet under every rule it matches.</summary>
    public void Process(in PacketMeta packet)
    {
        Packets++;
        var rules = _rules.Rules;
        if (_rules.IsAllowed(packet))
        {
            Allowed++;
            return;
        }

        if (_blockingRules.Length > 0 && IsBlocked(packet))
        {
            Blocked++;
            return;
        }

        for (var i = 0; i < rules.Length; i++)
        {
            var rule = rules[i];
            if (!rule.Matcher.Matches(packet))
            {
                continue;
            }

            var decision = _limiters[i].Decide(packet, rule.CostsBytes ? packet.IpLength : 1);
            ref var totals = ref _totals[i];
            switch (decision.Outcome)
            {
                case LimitOutcome.Passed:
                    totals.Passed++;
                    continue;
                case LimitOutcome.Delayed:
                    totals.Delayed++;
                    continue;
            }

            totals.Limited++;
            if (rule.Blocks)
            {
                Block(i, packet);
                return;
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

    /// <summary>Every rule's totals and keys at <paramref name="nowNs"/>.</summary>
    public IReadOnlyList<RuleReport> Report(long nowNs)
    {
        var reports = new RuleReport[_limiters.Length];
        for (var i = 0; i < reports.Length; i++)
        {
            var limiter = _limiters[i];
            reports[i] = new RuleReport(
                _rules.Rules[i].Rule.Name,
                _totals[i].Passed,
                _totals[i].Limited,
                _totals[i].Delayed,
                limiter.KeysTracked,
                limiter.Evictions,
                limiter.Report(nowNs));
        }

        return reports;
    }

    private bool IsBlocked(in PacketMeta packet)
    {
        foreach (var i in _blockingRules)
        {
            var key = (i, BlockKey(i, packet));
            if (_blockedUntil.TryGetValue(key, out var until))
            {
                if (packet.TimestampNs < until)
                {
                    _totals[i].Limited++;
                    _limiters[i].CountBlocked(packet);
                    return true;
                }

                _blockedUntil.Remove(key);
            }
        }

        return false;
    }

    private void Block(int rule, in PacketMeta packet)
    {
        var compiled = _rules.Rules[rule];
        var key = BlockKey(rule, packet);
        if (_blockedUntil.Count >= _maxBlocked && packet.TimestampNs >= _nextSweepNs)
        {
            // Bounded like the limiter tables: forget ended blocks, at most once a second of packet time.
            _nextSweepNs = packet.TimestampNs + 1_000_000_000;
            foreach (var (entry, until) in _blockedUntil)
            {
                if (until <= packet.TimestampNs)
                {
                    _blockedUntil.Remove(entry);
                }
            }
        }

        // When still full the kernel's block set holds the block alone; the engine goes on counting the key.
        if (_blockedUntil.Count < _maxBlocked)
        {
            _blockedUntil[(rule, key)] = packet.TimestampNs + compiled.BlockForNs;
        }

        KeyBlocked?.Invoke(compiled.Rule.Name, packet.Family, key, BlockPrefix(rule, packet.Family), compiled.BlockForNs, packet.TimestampNs);
    }

    /// <summary>The source prefix a block covers: the rule's source prefix, or the address for other keys.</summary>
    private UInt128 BlockKey(int rule, in PacketMeta packet) => packet.Family == IpFamily.V4
        ? packet.Source & AddressSet.Mask4(BlockPrefix(rule, IpFamily.V4))
        : packet.Source & AddressSet.Mask6(BlockPrefix(rule, IpFamily.V6));

    /// <summary>The prefix length of a block by <paramref name="rule"/>: its source prefix, or the whole address for other keys.</summary>
    private int BlockPrefix(int rule, IpFamily family)
    {
        var per = _rules.Rules[rule].Rule.Per;
        var isSourcePrefix = per.Kind == Rules.KeyKind.Source;
        return family == IpFamily.V4 ? (isSourcePrefix ? per.V4Prefix : 32) : (isSourcePrefix ? per.V6Prefix : 128);
    }

    private struct RuleTotals
    {
        public long Passed;
        public long Limited;
        public long Delayed;
    }
}
