namespace Shaper.Rules;

/// <summary>Why a value's text did not parse, and what would: the two halves of a diagnostic.</summary>
internal readonly record struct ValueError(string Message, string Hint);
