using Shaper.Rules;

namespace Shaper.Plan;

/// <summary>
/// The <c>[global]</c> host-wide cap as every enforcer applies it: one token bucket of the global rate and burst that
/// each packet a rule matches draws from (one token, or its bytes for a byte rate) before the rule's own limit, once
/// per rule it matches, in whichever enforcer runs the rule. Over the cap a hard rule's packet is dropped, whatever
/// its action, and the rule's own limit never sees it; a soft rule's is only counted. The kernel holds the bucket
/// (the nftables named limit <c>l_global</c>, iptables a <c>hashlimit</c> per address family) for kernel and observe
/// rules alike, since captured packets have already passed and only the kernel can stop them; the engine runs the
/// same bucket over the packets it captures, so that what the kernel dropped is not counted as an arrival, and replay
/// runs it over every rule. Rules above the cap are also held at it (<see cref="Rules.ConfigLoader"/> warns of each).
/// </summary>
public sealed class GlobalCap
{
    private GlobalCap(GlobalLimit limit)
    {
        Rate = limit.Rate;
        Burst = limit.Burst;
    }

    /// <summary>The global rate.</summary>
    public RateSpec Rate { get; }

    /// <summary>The bucket's size, in packets or bytes as the rate counts.</summary>
    public long Burst { get; }

    /// <summary>True when a packet costs its bytes (a byte rate), not 1.</summary>
    public bool CostsBytes => Rate.Unit == RateUnit.Bytes;

    /// <summary>
    /// The cap over <paramref name="rules"/> (the rules one enforcer runs) under <paramref name="config"/>'s
    /// <c>[global]</c>; null when there is no <c>[global]</c> or no rule for it to cap.
    /// </summary>
    public static GlobalCap? Of(ShaperConfig config, IReadOnlyCollection<Rule> rules)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(rules);
        return config.Global is { } global && rules.Count > 0 ? new GlobalCap(global) : null;
    }

    /// <summary>True when <paramref name="other"/> is the same bucket (rate and burst), so a reload keeps its state.</summary>
    public bool SameBucket(GlobalCap? other) =>
        other is not null && other.Rate.Rate == Rate.Rate && other.Rate.Unit == Rate.Unit && other.Burst == Burst;
}
