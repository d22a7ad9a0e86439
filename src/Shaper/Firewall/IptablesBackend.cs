using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Shaper.Rules;

namespace Shaper.Firewall;

/// <summary>
/// The iptables backend, for hosts without a usable nft: the same kernel rules as <see cref="NftBackend"/> as
/// <c>hashlimit</c> matches in chains of the shaper's own (<see cref="IptablesScript"/>), jumped to from
/// INPUT by one rule it owns. Each family is one <c>iptables-restore --noflush</c> transaction, tested with
/// <c>--test</c> first; when the second family fails after the first went in, the first is put back as it
/// was, so a failing apply leaves the previous rules enforced. Blocks are per-address DROP rules whose time
/// to live this backend keeps and enforces: a timer set for the earliest expiry runs <see cref="ExpireBlocks"/>.
/// </summary>
public sealed partial class IptablesBackend : IFirewallBackend, IDisposable
{
    private static readonly bool[] BothFamilies = [true, false];

    private readonly IIptablesRunner _iptables;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new(); // apply, blocks, re-install and stop must not interleave
    private readonly Dictionary<IPNetwork, DateTimeOffset> _blocks = [];
    private readonly ITimer _expiry;
    private DateTimeOffset _nextExpiry = DateTimeOffset.MaxValue;
    private long _checks;

    /// <summary>Creates the backend over <paramref name="iptables"/>; <paramref name="time"/> dates and expires the blocks.</summary>
    public IptablesBackend(IIptablesRunner iptables, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        _iptables = iptables;
        _time = time;
        _expiry = time.CreateTimer(_ => ExpireBlocks(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <inheritdoc />
    public Plan.EnforcementPlan? Applied { get; private set; }

    /// <summary>Blocks this backend holds in the kernel now.</summary>
    public int BlockCount
    {
        get
        {
            lock (_lock)
            {
                return _blocks.Count;
            }
        }
    }

    /// <inheritdoc />
    public bool Adopt()
    {
        lock (_lock)
        {
            var found = false;
            foreach (var v4 in BothFamilies)
            {
                var save = _iptables.Save(v4);
                if (!save.Ok || IptablesScript.Owned(save.Output).Chains.Count == 0)
                {
                    continue;
                }

                found = true;

                // Their time to live is not in the kernel: they stay until the first expiry sweep, by which
                // time the daemon has re-asserted those its block store still holds.
                foreach (var network in IptablesScript.BlocksIn(save.Output))
                {
                    _blocks[network] = _time.GetUtcNow();
                }
            }

            return found;
        }
    }

    /// <inheritdoc />
    public string? Apply(Plan.EnforcementPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        lock (_lock)
        {
            var problems = IptablesScript.Problems(plan);
            if (problems.Count > 0)
            {
                return "iptables cannot express the rules: " + string.Join("; ", problems);
            }

            var scripts = new Dictionary<bool, string>();
            foreach (var v4 in BothFamilies)
            {
                var save = _iptables.Save(v4);
                if (!save.Ok)
                {
                    return $"{Tool(v4)}-save failed: {Why(save)}";
                }

                var (chains, jumps) = IptablesScript.Owned(save.Output);
                scripts[v4] = IptablesScript.Apply(plan, v4, _blocks.Keys, chains, addJump: jumps == 0);
                var test = _iptables.Restore(v4, scripts[v4], test: true);
                if (!test.Ok)
                {
                    return $"{Tool(v4)}-restore refused the rules: {Why(test)}";
                }
            }

            foreach (var v4 in BothFamilies)
            {
                var result = _iptables.Restore(v4, scripts[v4]);
                if (result.Ok)
                {
                    continue;
                }

                var why = $"{Tool(v4)}-restore could not apply the rules: {Why(result)}";
                if (!v4)
                {
                    // IPv4 went in, IPv6 did not: put IPv4 back as it was.
                    Restore(true, Applied);
                }

                return why;
            }

            Applied = plan;
            return null;
        }
    }

    /// <summary>
    /// True when the chain and the jump are there. Each call looks at one family, taking turns: iptables-save is
    /// a process, and the daemon asks twice a second, so each family is still looked at every second.
    /// </summary>
    public bool IsInstalled()
    {
        var v4 = (Interlocked.Increment(ref _checks) & 1) == 0;
        var save = _iptables.Save(v4);
        var (chains, jumps) = IptablesScript.Owned(save.Output);
        return save.Ok && jumps > 0 && chains.Contains(IptablesScript.InputChain);
    }

    /// <inheritdoc />
    public string? Reinstall() => Applied is { } plan ? Apply(plan) : null;

    /// <inheritdoc />
    /// <remarks>Builds (and discards) a block script per family; each real batch spawns iptables-restore anyway.</remarks>
    public void WarmUp()
    {
        foreach (var v4 in BothFamilies)
        {
            _ = IptablesScript.Blocks("-A", [new IPNetwork(IPAddress.Parse(v4 ? "192.0.2.1" : "2001:db8::1"), v4 ? 32 : 128)], v4);
        }
    }

    /// <inheritdoc />
    public string? AddBlocks(IEnumerable<(IPNetwork Network, TimeSpan Ttl)> blocks)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            var added = new Dictionary<IPNetwork, TimeSpan>();
            foreach (var (network, ttl) in blocks.Where(b => b.Ttl > TimeSpan.Zero))
            {
                if (_blocks.ContainsKey(network))
                {
                    // Already a rule: only its end moves, to what the latest block says (shorter or longer), as an nft element's does.
                    _blocks[network] = now + ttl;
                }
                else
                {
                    added[network] = ttl; // the latest block of a network wins
                }
            }

            foreach (var v4 in BothFamilies)
            {
                var script = IptablesScript.Blocks("-A", added.Keys, v4);
                if (script.Length > 0 && _iptables.Restore(v4, script) is { Ok: false } result)
                {
                    return $"{Tool(v4)}-restore could not add blocks: {Why(result)}";
                }

                // The time to live counts from the commit, as an nft element's timeout does.
                var committed = _time.GetUtcNow();
                foreach (var (network, ttl) in added.Where(a => NftScript.IsV4(a.Key) == v4))
                {
                    _blocks[network] = committed + ttl;
                }
            }

            Schedule();
            return null;
        }
    }

    /// <inheritdoc />
    public string? RemoveBlock(IPNetwork network)
    {
        lock (_lock)
        {
            return _blocks.Remove(network) ? Delete([network]) : null;
        }
    }

    /// <inheritdoc />
    public string? ExpireBlocks()
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            var expired = _blocks.Where(b => b.Value <= now).Select(b => b.Key).ToList();
            foreach (var network in expired)
            {
                _blocks.Remove(network);
            }

            _nextExpiry = DateTimeOffset.MaxValue;
            var error = expired.Count == 0 ? null : Delete(expired);
            Schedule();
            return error;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _expiry.Dispose();

    /// <inheritdoc />
    public List<(string Rule, long Passed, long Limited)> RuleCounters()
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var v4 in BothFamilies)
        {
            var save = _iptables.Save(v4, counters: true);
            foreach (Match m in CounterLine().Matches(save.Ok ? save.Output : ""))
            {
                var key = m.Groups[2].Value + ":" + m.Groups[3].Value;
                counts[key] = counts.GetValueOrDefault(key) + long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            }
        }

        var rules = new List<(string, long, long)>();
        foreach (var rule in Applied?.KernelRules ?? [])
        {
            var matched = counts.GetValueOrDefault(rule.Name + ":matched");
            var limited = counts.GetValueOrDefault(rule.Name + ":limited");
            rules.Add((rule.Name, Math.Max(matched - limited, 0), limited));
        }

        return rules;
    }

    /// <inheritdoc />
    public void Remove()
    {
        lock (_lock)
        {
            foreach (var v4 in BothFamilies)
            {
                var save = _iptables.Save(v4);
                var script = save.Ok ? IptablesScript.Remove(save.Output) : "";
                if (script.Length > 0)
                {
                    _iptables.Restore(v4, script);
                }
            }

            _blocks.Clear();
            _nextExpiry = DateTimeOffset.MaxValue;
            _expiry.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            Applied = null;
        }
    }

    /// <summary>Sets the timer for the earliest expiry, when that is sooner than it is set for.</summary>
    private void Schedule()
    {
        if (_blocks.Count == 0)
        {
            return;
        }

        var next = _blocks.Values.Min();
        if (next < _nextExpiry)
        {
            _nextExpiry = next;
            _expiry.Change(next - _time.GetUtcNow() is { } wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Deletes block rules; when one is not there (someone edited the chain), rewrites the whole ruleset instead.</summary>
    private string? Delete(List<IPNetwork> networks)
    {
        foreach (var v4 in BothFamilies)
        {
            var script = IptablesScript.Blocks("-D", networks, v4);
            if (script.Length > 0 && !_iptables.Restore(v4, script).Ok && Restore(v4, Applied) is { } error)
            {
                return error;
            }
        }

        return null;
    }

    /// <summary>Puts one family back to <paramref name="plan"/> with the blocks held now, or removes it when there is none.</summary>
    private string? Restore(bool v4, Plan.EnforcementPlan? plan)
    {
        var save = _iptables.Save(v4);
        if (!save.Ok)
        {
            return $"{Tool(v4)}-save failed: {Why(save)}";
        }

        var (chains, jumps) = IptablesScript.Owned(save.Output);
        var script = plan is null ? IptablesScript.Remove(save.Output) : IptablesScript.Apply(plan, v4, _blocks.Keys, chains, jumps == 0);
        var result = script.Length == 0 ? save : _iptables.Restore(v4, script);
        return result.Ok ? null : $"{Tool(v4)}-restore could not restore the rules: {Why(result)}";
    }

    private static string Tool(bool v4) => v4 ? "iptables" : "ip6tables";

    /// <summary>iptables-restore's error on one line, without its usage hint.</summary>
    private static string Why(NftResult result) =>
        string.Join(' ', result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !l.StartsWith("Try `", StringComparison.Ordinal))) is { Length: > 0 } why ? why : "failed";

    [GeneratedRegex(@"^\[(\d+):\d+\] -A SHAPER-INPUT .*--comment ""?shaper:([a-z0-9-]+):(matched|limited)""?", RegexOptions.Multiline)]
    private static partial Regex CounterLine();
}
