namespace Shaper.Rules;

/// <summary>One validated <c>[[rule]]</c>.</summary>
public sealed record Rule
{
    /// <summary>Unique, <c>[a-z0-9-]</c>, at most 24 characters: it names kernel objects.</summary>
    public required string Name { get; init; }

    /// <summary>Which packets the rule applies to.</summary>
    public RuleMatch Match { get; init; } = new();

    /// <summary>What the rule's limit is kept per.</summary>
    public KeyScope Per { get; init; } = KeyScope.Source;

    /// <summary>The limiting algorithm.</summary>
    public AlgorithmKind Algorithm { get; init; } = AlgorithmKind.TokenBucket;

    /// <summary>Rate for token_bucket and leaky_bucket; null for the window algorithms.</summary>
    public RateSpec? Rate { get; init; }

    /// <summary>Bucket size for token_bucket and the leaky meter.</summary>
    public long? Burst { get; init; }

    /// <summary>Limit per window for fixed_window, sliding_log and sliding_window.</summary>
    public long? Limit { get; init; }

    /// <summary>Window length for the window algorithms.</summary>
    public TimeSpan? Window { get; init; }

    /// <summary>Queue capacity for leaky_bucket with enforce = "queue".</summary>
    public int? Queue { get; init; }

    /// <summary>Where the rule is enforced.</summary>
    public EnforceKind Enforce { get; init; } = EnforceKind.Kernel;

    /// <summary>What happens to traffic over the limit.</summary>
    public RuleAction Action { get; init; } = RuleAction.Drop;

    /// <summary>How long a key stays blocked with action = "block".</summary>
    public TimeSpan? BlockFor { get; init; }

    /// <summary>Hard enforces; soft only counts (a dry run).</summary>
    public RuleMode Mode { get; init; } = RuleMode.Hard;

    /// <summary>Whether the limit holds for this host alone or for the sum over the <c>[fleet]</c>.</summary>
    public RuleScope Scope { get; init; } = RuleScope.Host;

    /// <summary>Where the rule starts in its file, for messages.</summary>
    public SourceLocation Location { get; init; }
}
