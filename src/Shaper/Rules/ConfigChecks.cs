using System.Net;
using Shaper.Plan;

namespace Shaper.Rules;

/// <summary>
/// Checks that need the whole file: unique rule names, the <c>[global]</c> cap (a rule above it is held
/// at it, as API Gateway holds a route limit at the account limit), rules that the allow list makes dead,
/// and rules no enforcer of the daemon's settings can carry out (<see cref="EnforcerChoice"/> decides, the same
/// decision the daemon's <see cref="EnforcementPlan"/> assigns by).
/// </summary>
internal sealed class ConfigChecks(DiagnosticBag bag, LoadOptions options)
{
    private readonly DiagnosticBag _bag = bag;
    private readonly LoadOptions _options = options;

    /// <summary>Runs every check and returns the rules with rates and bursts held at the global cap.</summary>
    public List<Rule> Run(IReadOnlyList<RuleRead> rules, GlobalLimit? global, IReadOnlyDictionary<string, SourceLocation> globalLocations, IReadOnlyList<IPNetwork> allow, DaemonSettings daemon, FleetSettings? fleet = null)
    {
        CheckNames(rules);
        var result = new List<Rule>(rules.Count);
        var backends = Backends(daemon.Backend);
        var capBackends = new HashSet<BackendKind>();
        foreach (var read in rules)
        {
            var rule = global is null ? read.Rule : Cap(read, global);
            CheckDead(read, allow);
            if (read.Rule.Scope == RuleScope.Fleet && fleet is null)
            {
                _bag.Error(Where(read, "scope"), $"scope = \"fleet\" of {read.Subject} has no [fleet] section to share its limit through", "add [fleet] with redis = \"198.18.0.9:6379\" and hosts = 3, or use scope = \"host\"");
            }

            if (_options.CheckEnforcement && !read.HasErrors)
            {
                CheckEnforcement(read with { Rule = rule }, daemon, backends, capBackends);
            }

            result.Add(rule);
        }

        if (global is not null)
        {
            foreach (var (backend, fallback) in backends)
            {
                if (capBackends.Contains(backend) && EnforcerChoice.GlobalRefusal(global, backend) is { } refusal && globalLocations.TryGetValue(refusal.Field, out var at))
                {
                    Report(at, refusal, fallback);
                }
            }
        }

        return result;
    }

    /// <summary>The backends to check against, each with whether it is auto's fallback (its refusals are warnings).</summary>
    private List<(BackendKind Backend, bool Fallback)> Backends(BackendKind configured)
    {
        if (_options.ResolveBackend is { } resolve)
        {
            return [(resolve(configured), false)];
        }

        return configured == BackendKind.Auto
            ? [(BackendKind.Nftables, false), (BackendKind.Iptables, true)]
            : [(configured, false)];
    }

    private void CheckEnforcement(RuleRead read, DaemonSettings daemon, List<(BackendKind Backend, bool Fallback)> backends, HashSet<BackendKind> capBackends)
    {
        string? first = null;
        foreach (var (backend, fallback) in backends)
        {
            if (EnforcerChoice.Assign(read.Rule, read.Subject, daemon, backend, out var refusal) is not null)
            {
                // The [global] cap is held in the kernel for every rule an enforcer runs (see GlobalCap).
                capBackends.Add(backend);
                continue;
            }

            // The same refusal under the fallback (no capture, a queue rule) is said once, as the error.
            if (refusal!.Message == first)
            {
                continue;
            }

            // Observe drop and reject need nftables' sets: with auto that is every such rule on every host, so it is
            // not warned of; a host that falls back to iptables refuses them when it applies, saying why.
            if (fallback && refusal.Field == "action")
            {
                continue;
            }

            first ??= refusal.Message;
            Report(Where(read, refusal.Field), refusal, fallback);
        }
    }

    private void Report(SourceLocation at, Refusal refusal, bool fallback)
    {
        if (fallback)
        {
            _bag.Warning(
                at,
                $"{refusal.Message} (backend = \"auto\" uses iptables where nftables is unusable)",
                $"set backend = \"nftables\" to rule iptables out; else {refusal.Hint}");
        }
        else
        {
            _bag.Error(at, refusal.Message, refusal.Hint);
        }
    }

    private static SourceLocation Where(RuleRead read, string field) =>
        field == "enforce" ? read.EnforceLocation : read.Fields.TryGetValue(field, out var at) ? at : read.Rule.Location;

    private void CheckNames(IReadOnlyList<RuleRead> rules)
    {
        var first = new Dictionary<string, RuleRead>(StringComparer.Ordinal);
        foreach (var read in rules)
        {
            if (read.Rule.Name.Length == 0)
            {
                continue;
            }

            if (first.TryGetValue(read.Rule.Name, out var earlier))
            {
                _bag.Error(
                    read.NameLocation,
                    $"duplicate rule name '{MessageText.Short(read.Rule.Name)}' (first at line {earlier.NameLocation.Line})",
                    "give each rule a unique name: it names the rule's kernel sets and counters");
            }
            else
            {
                first.Add(read.Rule.Name, read);
            }
        }
    }

    private Rule Cap(RuleRead read, GlobalLimit global)
    {
        var rule = read.Rule;
        if (rule.Rate is { } rate && rate.Unit == global.Rate.Unit && IsFaster(rate.Rate, global.Rate.Rate))
        {
            _bag.Warning(
                read.RateLocation ?? rule.Location,
                $"rate '{rate.Text}' of {read.Subject} is above the [global] rate '{global.Rate.Text}'",
                $"it is held at '{global.Rate.Text}'; lower it, or raise [global] rate");
            rule = rule with { Rate = global.Rate };
        }

        if (rule.Burst is { } burst && burst > global.Burst && (rule.Rate is null || rule.Rate.Unit == global.Rate.Unit))
        {
            _bag.Warning(
                read.BurstLocation ?? rule.Location,
                $"burst {burst} of {read.Subject} is above the [global] burst {global.Burst}",
                $"it is held at {global.Burst}; lower it, or raise [global] burst");
            rule = rule with { Burst = global.Burst };
        }

        return rule;
    }

    private void CheckDead(RuleRead read, IReadOnlyList<IPNetwork> allow)
    {
        var sources = read.Rule.Match.Src;
        if (allow.Count == 0 || sources.Count == 0 || read.SrcLocation is not { } at)
        {
            return;
        }

        foreach (var source in sources)
        {
            if (!allow.Any(a => CidrParser.Covers(a, source)))
            {
                return;
            }
        }

        _bag.Warning(
            at,
            $"{read.Subject} can never act: every address in its match.src is in [[allow]]",
            "allowed sources are never limited; narrow [[allow]] or change match.src");
    }

    /// <summary>a/p &gt; b/q, exactly.</summary>
    private static bool IsFaster(Limiting.Rate a, Limiting.Rate b) =>
        (Int128)a.Amount * b.PeriodNs > (Int128)b.Amount * a.PeriodNs;
}
