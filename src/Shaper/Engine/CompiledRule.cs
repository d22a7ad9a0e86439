using Shaper.Rules;

namespace Shaper.Engine;

/// <summary>A validated rule with its match compiled; immutable.</summary>
internal sealed class CompiledRule(Rule rule)
{
    public Rule Rule { get; } = rule;

    public RuleMatcher Matcher { get; } = new(rule.Match);

    /// <summary>True when the rule's cost is the packet's bytes, not 1.</summary>
    public bool CostsBytes { get; } = rule.Rate?.Unit == RateUnit.Bytes;

    /// <summary>True when a limited packet is gone from the kernel's path, so later rules never see it.</summary>
    public bool Stops { get; } = rule.Mode == RuleMode.Hard && rule.Enforce != EnforceKind.Observe;

    /// <summary>True when a limited key goes into the block set.</summary>
    public bool Blocks { get; } = rule.Mode == RuleMode.Hard && rule.Action == RuleAction.Block && rule.BlockFor is not null;

    public long BlockForNs { get; } = (rule.BlockFor ?? TimeSpan.Zero).Ticks * 100;
}
