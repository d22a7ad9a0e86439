namespace Shaper.Rules;

/// <summary>A position in a configuration file, 1-based, for messages of the form <c>file:line:column</c>.</summary>
public readonly record struct SourceLocation(string File, int Line, int Column)
{
    /// <inheritdoc />
    public override string ToString() => $"{File}:{Line}:{Column}";
}
