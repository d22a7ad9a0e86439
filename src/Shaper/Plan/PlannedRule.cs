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

    /// <summary>The enforcer's name as status and counters print it: <c>kernel</c>, <c>observe</c> or <c>queue</c>.</summary>
    public string EnforcerName => Enforcer switch
    {
        Enforcer.Kernel => "kernel",
        Enforcer.Queue => "queue",
        _ => "observe",
    };

    /// <summary>The compiled match, key and limits of the engine.</summary>
    internal CompiledRule Compiled { get; }
}
