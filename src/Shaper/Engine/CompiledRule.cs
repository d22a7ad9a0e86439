using Shaper.Rules;

namespace Shaper.Engine;

/// <summary>
/// A validated rule with its match compiled; immutable but for its interfaces' indexes. <paramref name="pinnedInterface"/>
/// is the interface a rule without <c>match.iface</c> is held to (the <c>[daemon] interface</c> when the capture is
/// wider), or null.
/// </summary>
internal sealed class CompiledRule(Rule rule, string? pinnedInterface = null)
{
    public Rule Rule { get; } = rule;

    /// <summary>The interfaces the rule matches, null for any.</summary>
    public InterfaceMatch? Interface => Matcher.Interface;

    public RuleMatcher Matcher { get; } = new(rule.Match, (rule.Match.Iface ?? pinnedInterface) is { } pattern ? new InterfaceMatch(pattern) : null);

    /// <summary>True when the rule's cost is the packet's bytes, not 1.</summary>
    public bool CostsBytes { get; } = rule.Rate?.Unit == RateUnit.Bytes;

    /// <summary>True when a limited packet is gone from the kernel's path, so later rules never see it.</summary>
    public bool Stops { get; } = rule.Mode == RuleMode.Hard && rule.Enforce != EnforceKind.Observe;

    /// <summary>True when a limited key goes into the block set.</summary>
    public bool Blocks { get; } = rule.Mode == RuleMode.Hard && rule.Action == RuleAction.Block && rule.BlockFor is not null;

    public long BlockForNs { get; } = (rule.BlockFor ?? TimeSpan.Zero).Ticks * 100;

    /// <summary>
    /// True when a limited key goes into the rule's kernel drop or reject set for as long as its limiter keeps
    /// refusing it: a hard observe rule with <c>action = "drop"</c> or <c>"reject"</c> whose key a set can hold.
    /// </summary>
    public bool Holds { get; } = Firewall.NftHoldSets.Holds(rule);

    /// <summary>True when a key over the limit is logged (once per key per window): <c>action = "log"</c>, or any soft rule.</summary>
    public bool Notices { get; } = rule.Action == RuleAction.Log || rule.Mode == RuleMode.Soft;

    /// <summary>The window of the log lines: the rule's window, one second for bucket rules.</summary>
    public long NoticeWindowNs { get; } = rule.Algorithm is AlgorithmKind.FixedWindow or AlgorithmKind.SlidingLog or AlgorithmKind.SlidingWindow && rule.Window is { } window
        ? Math.Max(window.Ticks * 100, 1)
        : 1_000_000_000;
}
