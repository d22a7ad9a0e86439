namespace Shaper.Rules;

/// <summary>
/// One finding about a configuration file: where, what is wrong and what would be right. Printed as
/// <c>file:line:column: message; hint</c> for errors and <c>file:line:column: warning: message; hint</c>
/// for warnings, one line each.
/// </summary>
/// <param name="Severity">Error (the file is refused) or warning (the file is used).</param>
/// <param name="Location">Where in the file, 1-based.</param>
/// <param name="Message">What is wrong, without a trailing period.</param>
/// <param name="Hint">What would be right.</param>
public sealed record Diagnostic(DiagnosticSeverity Severity, SourceLocation Location, string Message, string Hint)
{
    /// <summary>True for <see cref="DiagnosticSeverity.Error"/>.</summary>
    public bool IsError => Severity == DiagnosticSeverity.Error;

    /// <summary>The one-line form, <c>file:line:column: [warning: ]message; hint</c>.</summary>
    public override string ToString() => IsError
        ? $"{Location}: {Message}; {Hint}"
        : $"{Location}: warning: {Message}; {Hint}";
}
