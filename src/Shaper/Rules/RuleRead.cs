namespace Shaper.Rules;

/// <summary>A rule as read, with where its fields are written, for the checks that span rules.</summary>
/// <param name="Rule">The rule (fields that did not parse are left at their defaults).</param>
/// <param name="Subject">How messages name it: <c>[[rule]] 'ssh-new'</c>.</param>
/// <param name="NameLocation">Where the name is written (the rule's header when it has none).</param>
/// <param name="RateLocation">Where the rate is written, if it is.</param>
/// <param name="BurstLocation">Where the burst is written, if it is.</param>
/// <param name="SrcLocation">Where match.src is written, if it is.</param>
/// <param name="EnforceLocation">Where enforce is written (the rule's header when it is the default).</param>
/// <param name="Fields">Where each field's value is written, by name (<c>rate</c>, <c>match.iface</c>, …).</param>
/// <param name="HasErrors">True when reading the rule found errors: the checks that need a whole rule skip it.</param>
internal sealed record RuleRead(
    Rule Rule,
    string Subject,
    SourceLocation NameLocation,
    SourceLocation? RateLocation,
    SourceLocation? BurstLocation,
    SourceLocation? SrcLocation,
    SourceLocation EnforceLocation,
    IReadOnlyDictionary<string, SourceLocation> Fields,
    bool HasErrors);
