namespace Shaper.Plan;

/// <summary>Why no enforcer of the running configuration can carry a rule out, and what to write instead.</summary>
/// <param name="Field">The field at fault, as written in the file (<c>enforce</c>, <c>rate</c>, <c>burst</c>, <c>match.iface</c>, <c>[global] rate</c>); the validator points at it.</param>
/// <param name="Message">What cannot be done, without a trailing period.</param>
/// <param name="Hint">What to write instead.</param>
public sealed record Refusal(string Field, string Message, string Hint);
