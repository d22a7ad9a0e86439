using Shaper.Limiting;
using Shaper.Rules;

namespace Shaper.Fleet;

/// <summary>
/// A fleet rule's share on one host: its limits divided by the fleet's size. A host enforces it while the store is
/// unreachable (so the fleet as a whole admits about the limit), and for a key the store has not yet answered for.
/// </summary>
public static class FleetShare
{
    /// <summary>
    /// <paramref name="rule"/> with its rate, burst and limit divided by <paramref name="hosts"/> (burst and limit
    /// rounded down, at least 1); a host rule, or a fleet of one, comes back unchanged.
    /// </summary>
    public static Rule Of(Rule rule, int hosts)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentOutOfRangeException.ThrowIfLessThan(hosts, 1);
        if (rule.Scope != RuleScope.Fleet || hosts == 1)
        {
            return rule;
        }

        return rule with
        {
            Rate = rule.Rate is { } rate
                ? rate with { Rate = new Rate(rate.Rate.Amount, checked(rate.Rate.PeriodNs * hosts)), Text = $"{rate.Text} / {hosts}" }
                : null,
            Burst = rule.Burst is { } burst ? Math.Max(1, burst / hosts) : null,
            Limit = rule.Limit is { } limit ? Math.Max(1, limit / hosts) : null,
        };
    }
}
