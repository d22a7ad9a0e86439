using System.Net;

namespace Shaper.Rules;

/// <summary>
/// Checks that need the whole file: unique rule names, the <c>[global]</c> cap (a rule above it is held
/// at it, as API Gateway holds a route limit at the account limit), rules that the allow list makes dead,
/// and rules whose enforcement the daemon settings switch off.
/// </summary>
internal sealed class ConfigChecks(DiagnosticBag bag)
{
    private readonly DiagnosticBag _bag = bag;

    /// <summary>Runs every check and returns the rules with rates and bursts held at the global cap.</summary>
    public List<Rule> Run(IReadOnlyList<RuleRead> rules, GlobalLimit? global, IReadOnlyList<IPNetwork> allow, DaemonSettings daemon)
    {
        CheckNames(rules);
        var result = new List<Rule>(rules.Count);
        foreach (var read in rules)
        {
            var rule = global is null ? read.Rule : Cap(read, global);
            CheckDead(read, allow);
            CheckDaemon(read, daemon);
            result.Add(rule);
        }

        return result;
    }

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

    private void CheckDaemon(RuleRead read, DaemonSettings daemon)
    {
        var rule = read.Rule;
        if (rule.Enforce == EnforceKind.Observe && daemon.Interface.Length == 0)
        {
            _bag.Warning(
                read.EnforceLocation,
                $"{read.Subject} uses enforce = \"observe\" but [daemon] interface is \"\" (no capture), so it never sees a packet",
                "set [daemon] interface = \"eth0\" (the interface to watch), or use enforce = \"kernel\"");
        }
        else if (rule.Enforce is EnforceKind.Kernel or EnforceKind.Queue && daemon.Backend == BackendKind.None)
        {
            _bag.Warning(
                read.EnforceLocation,
                $"{read.Subject} is enforced by the kernel but [daemon] backend = \"none\" installs nothing",
                "set backend = \"auto\", or use enforce = \"observe\"");
        }
    }

    /// <summary>a/p &gt; b/q, exactly.</summary>
    private static bool IsFaster(Limiting.Rate a, Limiting.Rate b) =>
        (Int128)a.Amount * b.PeriodNs > (Int128)b.Amount * a.PeriodNs;
}
