namespace Shaper.Rules;

/// <summary>
/// What <see cref="ConfigLoader"/> found: the configuration when the file has no errors, and every
/// diagnostic (errors and warnings) in file order.
/// </summary>
/// <param name="Config">The validated configuration; null when <see cref="HasErrors"/>.</param>
/// <param name="Diagnostics">Every error and warning, sorted by line and column.</param>
public sealed record LoadResult(ShaperConfig? Config, IReadOnlyList<Diagnostic> Diagnostics)
{
    /// <summary>True when at least one diagnostic is an error; then <see cref="Config"/> is null.</summary>
    public bool HasErrors => ErrorCount > 0;

    /// <summary>How many diagnostics are errors.</summary>
    public int ErrorCount => Diagnostics.Count(d => d.IsError);

    /// <summary>How many diagnostics are warnings.</summary>
    public int WarningCount => Diagnostics.Count - ErrorCount;
}
