namespace Shaper.Engine;

/// <summary>One rule's totals and its keys, as replay and <c>shaperctl counters</c> report them.</summary>
public sealed record RuleReport(
    string Name,
    long Passed,
    long Limited,
    long Delayed,
    int KeysTracked,
    long Evictions,
    IReadOnlyList<KeyReport> Keys);
