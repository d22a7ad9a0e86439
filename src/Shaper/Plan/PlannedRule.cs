using Shaper.Engine;
using Shaper.Rules;

namespace Shaper.Plan;

/// <summary>One rule of an <see cref="EnforcementPlan"/>: the rule (its limits already held at <c>[global]</c>) and the one enforcer that carries it out.</summary>
public sealed class PlannedRule
{
    internal PlannedRule(Rule rule, int index, Enforcer enforcer)
    {
        Rule = rule;
        Index = index;
        Enforcer = enforcer;
        Compiled = new CompiledRule(rule);
    }

    /// <summary>The validated rule.</summary>
    public Rule Rule { get; }

    /// <summary>Its position in the file, from 0.</summary>
    public int Index { get; }

    /// <summary>Where it is enforced.</summary>
    public Enforcer Enforcer { get; }

    /// <summary>The enforcer's name as status and counters print it: <c>kernel</c> or <c>observe</c>.</summary>
    public string EnforcerName => Enforcer == Enforcer.Kernel ? "kernel" : "observe";

    /// <summary>The compiled match, key and limits of the engine.</summary>
    internal CompiledRule Compiled { get; }
}
