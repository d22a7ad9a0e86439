namespace Shaper.Rules;

/// <summary>Collects every diagnostic of one load; nothing stops at the first error.</summary>
internal sealed class DiagnosticBag
{
    private readonly List<Diagnostic> _items = [];

    public bool HasErrors => ErrorCount > 0;

    /// <summary>Errors so far, so a reader can tell whether one part of the file added any.</summary>
    public int ErrorCount { get; private set; }

    public void Error(SourceLocation at, string message, string hint)
    {
        _items.Add(new Diagnostic(DiagnosticSeverity.Error, at, MessageText.OneLine(message), MessageText.OneLine(hint)));
        ErrorCount++;
    }

    public void Warning(SourceLocation at, string message, string hint) =>
        _items.Add(new Diagnostic(DiagnosticSeverity.Warning, at, MessageText.OneLine(message), MessageText.OneLine(hint)));

    /// <summary>The diagnostics in file order; those at the same place keep the order they were found in.</summary>
    public IReadOnlyList<Diagnostic> Sorted() =>
        [.. _items.OrderBy(d => d.Location.Line).ThenBy(d => d.Location.Column)];
}
