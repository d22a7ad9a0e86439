namespace Shaper.Engine;

/// <summary>
/// One rule's totals and its keys, as replay and <c>shaperctl counters</c> report them; <see cref="Logged"/> counts
/// the over-limit lines a logging or soft rule raised (at most one per key per window); <see cref="DroppedMaxHeld"/>, for
/// a queue rule (null for others), the packets it dropped because <c>max_held</c> were held (also in <see cref="Limited"/>).
/// </summary>
public sealed record RuleReport(
    string Name,
    long Passed,
    long Limited,
    long Delayed,
    int KeysTracked,
    long Evictions,
    IReadOnlyList<KeyReport> Keys,
    long Logged = 0,
    long? DroppedMaxHeld = null);
