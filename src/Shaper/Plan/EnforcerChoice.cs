using Shaper.Firewall;
using Shaper.Rules;

namespace Shaper.Plan;

/// <summary>
/// The one place that decides which enforcer carries a rule out under a daemon's settings and kernel backend, or
/// why none can. The validator (<c>shaperctl rules validate</c> and the daemon's loader) reports the refusals
/// with the place in the file; <see cref="EnforcementPlan"/> assigns by the same decision.
/// </summary>
public static class EnforcerChoice
{
    /// <summary>
    /// The enforcer of <paramref name="rule"/> when the daemon runs with <paramref name="daemon"/> and the kernel
    /// backend <paramref name="backend"/> (nftables, iptables or none; not auto); null with the reason when none can.
    /// <paramref name="subject"/> names the rule in messages (<c>[[rule]] 'ssh-new'</c>).
    /// </summary>
    public static Enforcer? Assign(Rule rule, string subject, DaemonSettings daemon, BackendKind backend, out Refusal? refusal)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(daemon);
        refusal = FleetRefusal(rule, subject) ?? rule.Enforce switch
        {
            EnforceKind.Queue => QueueRefusal(rule, subject, backend),
            EnforceKind.Kernel => KernelRefusal(rule, subject, backend),
            _ => ObserveRefusal(rule, subject, daemon) ?? HoldRefusal(rule, subject, backend),
        };
        if (refusal is not null)
        {
            return null;
        }

        return rule.Enforce switch
        {
            EnforceKind.Kernel => Enforcer.Kernel,
            EnforceKind.Queue => Enforcer.Queue,
            _ => Enforcer.Observe,
        };
    }

    /// <summary>
    /// Why the kernel backend cannot write the <c>[global]</c> cap it holds every rule to (kernel and observe rules
    /// alike, see <see cref="GlobalCap"/>); null when it can.
    /// </summary>
    public static Refusal? GlobalRefusal(GlobalLimit global, BackendKind backend)
    {
        ArgumentNullException.ThrowIfNull(global);
        switch (backend)
        {
            case BackendKind.None:
                return new Refusal(
                    "[global] rate",
                    "[global] is a cap the kernel holds every rule to, but [daemon] backend = \"none\" installs nothing",
                    "set backend = \"auto\", or remove [global]");
            case BackendKind.Nftables when NftScript.KernelLimit(global.Rate, global.Burst) is null:
                return new Refusal(
                    "[global] rate",
                    $"[global] rate '{global.Rate.Text}' is not a whole number per second, minute, hour or day, so nftables cannot write the cap it holds the rules to",
                    "write a rate such as \"20000/s\" or \"30/minute\"");
            case BackendKind.Iptables when IptablesScript.Rate(global.Rate, out var error) is null:
                return new Refusal("[global] rate", $"[global] {error}, so iptables cannot write the cap it holds the rules to", IptablesRateHint(global.Rate));
            default:
                return KernelLimits.BurstRefusal(global.Rate, global.Burst, backend, "[global]", "[global] burst");
        }
    }

    /// <summary>
    /// A fleet rule is an observe rule whose limiter is shared through the store: the engine decides each packet
    /// against its share, which the kernel's meters (a limit each host's kernel keeps alone) and the queue cannot.
    /// A sliding log has no shared form here: exchanging hit counts every sync loses the times of the hits it would log.
    /// </summary>
    private static Refusal? FleetRefusal(Rule rule, string subject)
    {
        if (rule.Scope != RuleScope.Fleet)
        {
            return null;
        }

        return rule.Enforce switch
        {
            EnforceKind.Kernel => new Refusal(
                "scope",
                $"scope = \"fleet\" of {subject} cannot be enforced by the kernel (enforce = \"kernel\"): each host's kernel meter counts that host's packets alone",
                "use enforce = \"observe\": the daemon shares the limit through [fleet] and stops keys over it in the kernel"),
            EnforceKind.Queue => new Refusal(
                "scope",
                $"scope = \"fleet\" of {subject} cannot hold a queue: a packet's departure slot would need the other hosts' queues",
                "use enforce = \"observe\" with algorithm = \"leaky_bucket\" as a meter (rate and burst), or scope = \"host\""),
            _ when rule.Algorithm == AlgorithmKind.SlidingLog => new Refusal(
                "scope",
                $"scope = \"fleet\" of {subject} cannot share a sliding_log: a log decides by the time of each hit it admitted, and the hosts send the store one count per key per sync, whose hits it could only date to the sync (each window edge would move by up to a sync interval; sending every hit's time instead would put up to limit timestamps per key per window through Redis)",
                "use algorithm = \"sliding_window\" (its two counters per key are what the store keeps exactly from counts), or scope = \"host\""),
            _ => null,
        };
    }

    private static Refusal? KernelRefusal(Rule rule, string subject, BackendKind backend)
    {
        if (backend == BackendKind.None)
        {
            return new Refusal(
                "enforce",
                $"{subject} is enforced by the kernel but [daemon] backend = \"none\" installs nothing",
                "set backend = \"auto\", or use enforce = \"observe\"");
        }

        if (rule.Rate is not { } rate)
        {
            return null;
        }

        if (backend == BackendKind.Iptables && IptablesScript.Rate(rate, out var error) is null)
        {
            return new Refusal("rate", $"{error}, so iptables cannot enforce {subject}", IptablesRateHint(rate));
        }

        return rule.Burst is { } burst ? KernelLimits.BurstRefusal(rate, burst, backend, subject, "burst") : null;
    }

    /// <summary>
    /// A queue rule sends its packets to NFQUEUE with a kernel rule (nft's queue statement, or the iptables NFQUEUE
    /// target where nft lacks it), so it needs a backend that installs rules. A full FIFO drops its newest packet, or
    /// rejects it with <c>action = "reject"</c>; blocking is not a queue's to do.
    /// </summary>
    private static Refusal? QueueRefusal(Rule rule, string subject, BackendKind backend)
    {
        if (backend == BackendKind.None)
        {
            return new Refusal(
                "enforce",
                $"{subject} uses enforce = \"queue\" but [daemon] backend = \"none\" installs nothing, so no packet would reach the queue",
                "set backend = \"auto\"");
        }

        if (rule.Action == RuleAction.Block && rule.Mode == RuleMode.Hard)
        {
            return new Refusal(
                "action",
                $"action = \"block\" of queue {subject} is not carried out: a full queue drops (or rejects) its newest packet",
                "use action = \"drop\" or \"reject\", or enforce = \"observe\" to block");
        }

        return null;
    }

    private static Refusal? ObserveRefusal(Rule rule, string subject, DaemonSettings daemon)
    {
        if (daemon.Interface.Length == 0)
        {
            return new Refusal(
                "enforce",
                $"{subject} uses enforce = \"observe\" but [daemon] interface is \"\" (no capture), so it never sees a packet",
                "set [daemon] interface = \"eth0\" (the interface to watch), or use enforce = \"kernel\"");
        }

        // A match.iface other than the captured interface widens the capture to "any" (EnforcementPlan.CaptureInterface).
        return null;
    }

    /// <summary>
    /// An observe rule that drops or rejects puts its keys into the kernel's drop or reject sets, for each key's own
    /// retry-after: nftables sets with per-element timeouts. iptables (without ipset) has none, and backend none
    /// installs nothing, so the rule would count its limit and stop nothing.
    /// </summary>
    private static Refusal? HoldRefusal(Rule rule, string subject, BackendKind backend)
    {
        if (!NftHoldSets.Holds(rule) || backend is not (BackendKind.Iptables or BackendKind.None))
        {
            return null;
        }

        var action = rule.Action == RuleAction.Reject ? "reject" : "drop";
        return backend == BackendKind.Iptables
            ? new Refusal("action", $"action = \"{action}\" of observe {subject} holds keys in nftables drop and reject sets, which iptables has no equivalent of", "set [daemon] backend = \"nftables\" (or \"auto\"), or use action = \"block\" or \"log\"")
            : new Refusal("action", $"action = \"{action}\" of observe {subject} stops keys in the kernel, but [daemon] backend = \"none\" installs nothing", "set [daemon] backend = \"auto\", or use action = \"log\" (or mode = \"soft\") to only count and log");
    }

    private static string IptablesRateHint(RateSpec rate) => rate.Unit == RateUnit.Bytes
        ? "write a whole number of bytes per second, e.g. \"125000 bytes/s\" (hashlimit counts bytes per second only), or set backend = \"nftables\""
        : "write a whole number per second, minute, hour or day up to 1000000/s, or set backend = \"nftables\"";
}
