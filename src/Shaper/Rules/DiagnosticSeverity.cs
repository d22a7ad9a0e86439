namespace Shaper.Rules;

/// <summary>How serious a <see cref="Diagnostic"/> is.</summary>
public enum DiagnosticSeverity
{
    /// <summary>The file cannot be used; the configuration is not loaded.</summary>
    Error,

    /// <summary>The file is used, but probably not as meant (a value was capped, a field is ignored, a rule can never act).</summary>
    Warning,
}
