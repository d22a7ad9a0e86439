namespace Shaper.Rules;

/// <summary><c>mode</c>.</summary>
public enum RuleMode
{
    /// <summary>Enforce.</summary>
    Hard,

    /// <summary>Count what would be limited, never enforce (a dry run).</summary>
    Soft,
}
