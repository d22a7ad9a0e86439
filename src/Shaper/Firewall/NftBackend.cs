using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Shaper.Resilience;
using Shaper.Rules;

namespace Shaper.Firewall;

/// <summary>
/// The nftables backend: applies a configuration to the table <c>inet shaper</c> in one transaction,
/// keeps the meter and block sets across reloads, adds blocks in batches, reads its counters, and removes
/// the table on stop. A failing transaction leaves the previous ruleset enforced. Nothing outside the table
/// is touched.
/// </summary>
public sealed partial class NftBackend : IFirewallBackend
{
    private const int MaxAttempts = 3;
    private static readonly TimeSpan BackoffBase = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan BackoffCap = TimeSpan.FromMilliseconds(500);

    private readonly INftRunner _nft;
    private readonly NftNetlink? _netlink;
    private long _netlinkFallbacks;
    private readonly Lock _applyLock = new(); // apply, re-install and stop must not interleave
    private Dictionary<string, string> _objects = new(StringComparer.Ordinal);
    private List<string> _unknown = [];
    private string? _lastScript; // the script of the last committed apply; null until one, and after the table is gone
    private HashSet<BlockSet> _blockSets = [];

    /// <summary>A backend over <paramref name="nft"/>; host blocks go through <paramref name="netlink"/> when given.</summary>
    public NftBackend(INftRunner nft, NftNetlink? netlink = null)
    {
        _nft = nft;
        _netlink = netlink;
    }

    /// <summary>The netlink socket for blocks and the ruleset generation; null when nft text does it all.</summary>
    public NftNetlink? Netlink => _netlink;

    /// <summary>Batches of blocks that netlink could not deliver (no answer) and nft text installed instead.</summary>
    public long NetlinkFallbacks => Interlocked.Read(ref _netlinkFallbacks);

    /// <summary>Why netlink last failed to deliver a batch; null when it never has.</summary>
    public string? LastNetlinkError { get; private set; }

    /// <summary>The plan last applied, for re-installing after a flush.</summary>
    public Plan.EnforcementPlan? Applied { get; private set; }

    /// <summary>
    /// Takes over a table left by an earlier run (<c>keep_on_stop</c>, a crash): its block sets stay, its
    /// stateful objects of unknown definition are recreated by the next apply. True when there was one.
    /// </summary>
    public bool Adopt()
    {
        // Over netlink when it can: nft lists a table with every set element (a million blocks: 90 s here).
        List<(string Kind, string Name)> objects;
        if (_netlink?.TableObjects() is { } listed)
        {
            if (!listed.Exists)
            {
                return false;
            }

            objects = listed.Objects;
        }
        else
        {
            var listing = _nft.Run($"list table {NftScript.Table}\n");
            if (!listing.Ok)
            {
                return false;
            }

            objects = [.. ObjectLine().Matches(listing.Output).Select(m => (Kind: m.Groups[1].Value, Name: m.Groups[2].Value))];
        }

        lock (_applyLock)
        {
            // Block sets stay with their elements (the apply keeps them); an older run's interval sets are unknown and go.
            _blockSets = [.. objects.Where(o => o.Kind == "set").Select(o => BlockSet.Parse(o.Name)).OfType<BlockSet>().Where(b => !b.IsHosts)];
            _unknown = [.. objects.Where(o => o.Kind != "set" || BlockSet.Parse(o.Name) is null).Select(o => $"{o.Kind} {o.Name}")];
        }

        return true;
    }

    /// <summary>Applies <paramref name="plan"/> in one transaction; null on success, else why (the old ruleset stays).</summary>
    public string? Apply(Plan.EnforcementPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        lock (_applyLock)
        {
            var (script, objects) = NftScript.Apply(plan, _objects, _unknown, _blockSets);
            return Commit(plan, script, objects);
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Skips the kernel when the script is the one last committed: a reload of unchanged rules (configuration management
    /// sending SIGHUP, <c>rules apply</c> of the same file) then holds no hold or block behind nf_tables' commit mutex,
    /// which a transaction keeps for 3 to 29 ms on a busy 2-core machine. What someone else changed in the table since
    /// is the reconciler's to repair, through <see cref="Repair"/>, which always applies.
    /// </remarks>
    public string? Reload(Plan.EnforcementPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        lock (_applyLock)
        {
            var (script, objects) = NftScript.Apply(plan, _objects, _unknown, _blockSets);
            if (script == _lastScript)
            {
                Applied = plan;
                return null;
            }

            return Commit(plan, script, objects);
        }
    }

    /// <summary>Runs <paramref name="script"/>, built from <paramref name="plan"/>, as one transaction; the caller holds the apply lock.</summary>
    private string? Commit(Plan.EnforcementPlan plan, string script, Dictionary<string, string> objects)
    {
        // One transaction: the kernel takes all of it or, refusing any part, none (the old ruleset stays). No dry run
        // first: its abort holds nf_tables' commit mutex like any batch, and holds and blocks wait behind it (measured
        // on a busy 2-core machine: reloads of 0.5 to 3.6 s with it, holds waiting up to 0.5 s; 3 to 29 ms without).
        var result = _netlink is { } netlink ? netlink.Attributed(() => RunWithRetry(script), r => r.Ok) : RunWithRetry(script);
        if (!result.Ok)
        {
            return "nft refused the ruleset: " + result.Reason;
        }

        _objects = objects;
        _unknown = [];
        _lastScript = script;
        Applied = plan;
        return null;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Readies the block path before the first real block: builds a batch for one address of each family (from
    /// the documentation ranges) and has nft check it without committing. The first batch after start otherwise
    /// pays for building its command and for nft's first parse of a set element, about 10 ms here, while the
    /// offenders that crossed together wait behind it.
    /// </remarks>
    public void WarmUp()
    {
        var script = NftBlockSets.AddElements([
            (new IPNetwork(IPAddress.Parse("192.0.2.1"), 32), TimeSpan.FromMinutes(1)),
            (new IPNetwork(IPAddress.Parse("2001:db8::1"), 128), TimeSpan.FromMinutes(1)),
        ]);
        _nft.Run(script, check: true);
        _ = _netlink?.WarmUp();
    }

    /// <summary>
    /// True when the table is in the kernel (someone may have flushed the ruleset). Asked twice a second, so over
    /// netlink when it can: <c>nft list chain</c> reads every block set whole first.
    /// </summary>
    public bool IsInstalled() => _netlink?.HasChain("reject_any") ?? _nft.Run($"list chain {NftScript.Table} reject_any\n").Ok;

    /// <summary>After a flush: the table is gone with every object in it, so the next apply creates all anew.</summary>
    public string? Reinstall()
    {
        lock (_applyLock)
        {
            _objects = new(StringComparer.Ordinal);
            _unknown = [];
            _lastScript = null;
        }

        return Applied is { } plan ? Apply(plan) : null;
    }

    /// <summary>
    /// After someone else changed objects in the table (a set or counter deleted, a rule changed): applies the
    /// configuration again over what is there. The apply refills the chains and adds every set and counter it
    /// needs (adding one that exists changes nothing), so whatever is missing comes back and the block sets,
    /// meter sets and counters still there keep their contents.
    /// </summary>
    public string? Repair() => Applied is { } config ? Apply(config) : null;

    /// <summary>The prefix-length block sets the table has beside the host sets.</summary>
    public IReadOnlyCollection<BlockSet> PrefixSets
    {
        get
        {
            lock (_applyLock)
            {
                return [.. _blockSets];
            }
        }
    }

    /// <summary>
    /// Makes sure the prefix sets in <paramref name="sets"/> (each once, no host set: <see cref="PackedBlocks.PrefixSets"/>)
    /// exist: a prefix length not seen before gets its set and its drop rule by applying the configuration again (one
    /// transaction, sets kept); null on success. The host sets always exist.
    /// </summary>
    private string? EnsureSets(List<BlockSet> sets)
    {
        if (sets.Count == 0)
        {
            return null; // hosts only, as nearly all of a restore's million blocks
        }

        lock (_applyLock)
        {
            List<BlockSet>? added = null;
            foreach (var set in sets)
            {
                if (!_blockSets.Contains(set))
                {
                    (added ??= []).Add(set);
                }
            }

            if (added is null)
            {
                return null;
            }

            _blockSets.UnionWith(added);
            if (Applied is not { } config)
            {
                return null;
            }

            var error = Apply(config);
            if (error is not null)
            {
                _blockSets.ExceptWith(added);
            }

            return error;
        }
    }

    /// <summary>The element keys <paramref name="set"/> holds in the kernel (hex of the address bytes); null when they cannot be read.</summary>
    public HashSet<string>? ElementsOf(BlockSet set) => _netlink?.Elements(set.Name);

    /// <summary>
    /// Adds blocks, each with its own time to live (a block already there takes the new one), in as few
    /// transactions as fit; null when the kernel holds them all, else why. Over netlink when it can, as nft text
    /// when netlink gets no answer; a refusal from the kernel is final.
    /// </summary>
    public string? AddBlocks(IEnumerable<(IPNetwork Network, TimeSpan Ttl)> blocks)
    {
        var all = PackedBlocks.Of(blocks as IReadOnlyList<(IPNetwork Network, TimeSpan Ttl)> ?? [.. blocks]);
        if (EnsureSets(all.PrefixSets()) is { } setError)
        {
            return "could not add a block set: " + setError;
        }

        if (_netlink is not null)
        {
            if (_netlink.AddBlocks(all) is not { } error)
            {
                return null;
            }

            if (error.StartsWith(NftNetlink.RefusedPrefix, StringComparison.Ordinal))
            {
                return error; // the kernel answered: nft text would be refused the same
            }

            LastNetlinkError = error;
            Interlocked.Increment(ref _netlinkFallbacks);
        }

        var script = NftBlockSets.AddElements(all);
        if (script.Length == 0)
        {
            return null;
        }

        _netlink?.Untrust(); // a commit netlink cannot account for
        var result = RunWithRetry(script);
        return result.Ok ? null : result.Reason;
    }

    /// <summary>
    /// Adds keys to an observe rule's drop or reject sets (of <paramref name="kind"/>, see <see cref="NftHoldSets"/>),
    /// each with its own time to live (a key already there takes the new one); null when the kernel holds them all,
    /// else why. Over netlink when it can, as nft text when netlink fails. The sets exist once the rule is applied.
    /// </summary>
    public string? AddHolds(string kind, IReadOnlyList<(IPNetwork Network, TimeSpan Ttl)> holds)
    {
        ArgumentNullException.ThrowIfNull(holds);
        if (_netlink is not null)
        {
            if (_netlink.AddBlocks(holds, kind) is not { } error)
            {
                return null;
            }

            LastNetlinkError = error;
            Interlocked.Increment(ref _netlinkFallbacks);
        }

        var script = NftBlockSets.AddElements(holds, kind);
        if (script.Length == 0)
        {
            return null;
        }

        _netlink?.Untrust(); // a commit netlink cannot account for
        var result = RunWithRetry(script);
        return result.Ok ? null : result.Reason;
    }

    /// <summary>
    /// Takes keys out of an observe rule's sets at the moment their hold ends, more precisely than the kernel's
    /// element timeout (counted in jiffies, 4 ms at HZ = 250); false when that needs netlink and there is none
    /// (the elements then expire by their timeout). A key already gone is no error.
    /// </summary>
    public bool TryReleaseHolds(string kind, IReadOnlyList<IPNetwork> holds, out string? error)
    {
        error = null;
        if (_netlink is null)
        {
            return false;
        }

        error = _netlink.DestroyElements(holds, kind);
        return true;
    }

    /// <summary>Removes one block; null on success (also when the element had already expired). Over netlink when it can.</summary>
    public string? RemoveBlock(IPNetwork network)
    {
        if (_netlink is not null)
        {
            if (_netlink.DestroyElements([network], BlockSet.Blocks) is null)
            {
                return null;
            }

            _netlink.Untrust(); // nft text makes a commit netlink cannot account for
        }

        var result = _nft.Run(NftBlockSets.DeleteElement(network));
        return result.Ok || result.Error.Contains("No such file or directory", StringComparison.Ordinal) ? null : result.Reason;
    }

    /// <summary>nft expires block elements itself (<c>flags timeout</c>).</summary>
    public string? ExpireBlocks() => null;

    /// <summary>Per kernel rule: packets it matched and packets it limited, from its named counters (over netlink when it can).</summary>
    public List<(string Rule, long Passed, long Limited)> RuleCounters()
    {
        var counts = _netlink?.CounterPackets();
        if (counts is null && _nft.Run($"list counters table {NftScript.Table}\n") is { Ok: true } result)
        {
            counts = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (Match m in CounterLine().Matches(result.Output))
            {
                counts[m.Groups[1].Value] = long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            }
        }

        var rules = new List<(string, long, long)>();
        foreach (var rule in Applied?.KernelRules ?? [])
        {
            var matched = counts?.GetValueOrDefault($"c_{rule.Name}_matched") ?? 0;
            var limited = counts?.GetValueOrDefault($"c_{rule.Name}_limited") ?? 0;
            rules.Add((rule.Name, Math.Max(matched - limited, 0), limited));
        }

        return rules;
    }

    /// <summary>Removes the table, and with it everything the shaper put in the kernel.</summary>
    public void Remove()
    {
        _netlink?.Untrust();
        lock (_applyLock)
        {
            _nft.Run($"delete table {NftScript.Table}\n");
            _objects = new(StringComparer.Ordinal);
            _blockSets = [];
            _lastScript = null;
            Applied = null;
        }
    }

    private NftResult RunWithRetry(string script)
    {
        var result = _nft.Run(script);
        for (var attempt = 0; !result.Ok && IsTransient(result) && attempt < MaxAttempts - 1; attempt++)
        {
            Thread.Sleep(Backoff.FullJitter(attempt, BackoffBase, BackoffCap, Random.Shared));
            result = _nft.Run(script);
        }

        return result;
    }

    /// <summary>Busy or out of buffer space: worth another try. A syntax or semantic error never is.</summary>
    private static bool IsTransient(NftResult result) =>
        result.Error.Contains("Device or resource busy", StringComparison.Ordinal)
        || result.Error.Contains("No buffer space", StringComparison.Ordinal)
        || result.Error.Contains("Interrupted system call", StringComparison.Ordinal);

    [GeneratedRegex(@"^\s*(set|limit|counter) (\S+) \{", RegexOptions.Multiline)]
    private static partial Regex ObjectLine();

    [GeneratedRegex(@"counter (c_\S+) \{\s*packets (\d+)", RegexOptions.Multiline)]
    private static partial Regex CounterLine();
}
