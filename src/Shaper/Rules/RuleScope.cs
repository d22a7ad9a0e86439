namespace Shaper.Rules;

/// <summary>Over what a rule's limit holds: this host's traffic alone, or the sum over a fleet sharing a Redis store.</summary>
public enum RuleScope
{
    /// <summary><c>scope = "host"</c> (the default): this host's traffic alone.</summary>
    Host,

    /// <summary><c>scope = "fleet"</c>: the sum over every host of the <c>[fleet]</c>.</summary>
    Fleet,
}
