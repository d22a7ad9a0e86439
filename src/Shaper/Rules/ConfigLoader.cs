using System.Buffers;
using System.Text;
using System.Text.RegularExpressions;
using Shaper.Rules.Toml;
using Tomlyn;
using Tomlyn.Parsing;
using Tomlyn.Syntax;

namespace Shaper.Rules;

/// <summary>
/// Loads <c>shaper.toml</c> (DESIGN.md, Configuration) into a validated <see cref="ShaperConfig"/>.
/// Every problem becomes a <see cref="Diagnostic"/> with <c>file:line:column</c>; nothing stops at the
/// first one, and no exception ever leaves these methods, whatever the file holds. TOML syntax errors
/// are reported alone: the checks of the configuration run once the file is valid TOML, because a
/// broken line would otherwise show up again as missing or mistyped fields.
/// <c>shaperctl rules validate</c> and the daemon both load through here.
/// </summary>
public static partial class ConfigLoader
{
    /// <summary>Files above this size are refused unread: a configuration is a few kilobytes.</summary>
    public const int MaxFileBytes = 1 << 20;

    private const string TomlHint = "write valid TOML here (https://toml.io)";

    /// <summary>Reads and loads the file at <paramref name="path"/>; an unreadable file is one diagnostic.</summary>
    /// <param name="path">The file; diagnostics name it as given.</param>
    /// <param name="options">What to check it against; <see cref="LoadOptions.Default"/> when null.</param>
    public static LoadResult Load(string path, LoadOptions? options = null)
    {
        // A path may hold a newline; diagnostics stay one line each.
        var name = string.IsNullOrEmpty(path) ? "(no file)" : MessageText.OneLine(path, maxLength: 4096);
        var at = new SourceLocation(name, 1, 1);
        byte[] bytes;
        try
        {
            if (Directory.Exists(path))
            {
                return Failed(at, "cannot read the file: it is a directory", "give the path of a TOML file, e.g. /etc/shaper/shaper.toml");
            }

            // Opening a FIFO would wait for a writer forever.
            if (Files.RegularFile.NotRegular(path) is { } kind)
            {
                return Failed(at, $"cannot read the file: it is {kind}", "give the path of a regular TOML file, e.g. /etc/shaper/shaper.toml");
            }

            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1);
            bytes = ReadAtMost(stream, MaxFileBytes + 1);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return Failed(at, "cannot read the file: it does not exist", "check the path; the installed default is /etc/shaper/shaper.toml");
        }
        catch (UnauthorizedAccessException)
        {
            return Failed(at, "cannot read the file: permission denied", "run as a user that may read it (root), or fix its permissions");
        }
        catch (Exception e) when (e is IOException or ArgumentException or NotSupportedException or System.Security.SecurityException)
        {
            return Failed(at, "cannot read the file", "check that the path names a readable regular file");
        }

        if (bytes.Length > MaxFileBytes)
        {
            return Failed(at, $"the file is larger than {MaxFileBytes / 1024} KiB", "a configuration is a few kilobytes; check that the path names the right file");
        }

        if (!TryDecode(bytes, name, out var text, out var invalid))
        {
            return Failed(invalid, "the file is not valid UTF-8 here", "save the file as UTF-8 text");
        }

        return Parse(text, name, options);
    }

    /// <summary>Loads configuration text; <paramref name="fileName"/> is the file name diagnostics show.</summary>
    public static LoadResult Parse(string text, string fileName, LoadOptions? options = null)
    {
        var bag = new DiagnosticBag();
        try
        {
            var root = ParseToml(text, fileName, bag);
            if (root is null || bag.HasErrors)
            {
                return new LoadResult(null, bag.Sorted());
            }

            var config = new ConfigReader(bag, fileName, options ?? LoadOptions.Default).Read(root);
            return new LoadResult(bag.HasErrors ? null : config, bag.Sorted());
        }
#pragma warning disable CA1031 // The contract is "no exception reaches the user": a bug here must still come out as one clear line.
        catch (Exception)
#pragma warning restore CA1031
        {
            bag.Error(new SourceLocation(fileName, 1, 1), "internal error while reading the file", "please report it with the file attached");
            return new LoadResult(null, bag.Sorted());
        }
    }

    private static TomlTable? ParseToml(string text, string fileName, DiagnosticBag bag)
    {
        DocumentSyntax document;
        try
        {
            // Tomlyn 2.10.2 throws ArgumentOutOfRangeException when a basic string's backslash is the file's
            // last character (it formats the end-of-file marker as a character); with a newline after it,
            // it reports the unclosed string instead. A final newline changes no TOML meaning or position.
            document = SyntaxParser.Parse(text.EndsWith('\n') ? text : text + "\n", fileName, validate: true);
        }
#pragma warning disable CA1031 // Tomlyn promises diagnostics, not exceptions; any other one it throws is its bug, reported as a syntax error.
        catch (Exception e) when (e is not TomlException)
#pragma warning restore CA1031
        {
            bag.Error(End(text, fileName), "invalid TOML: the parser stopped before the end of the file", TomlHint);
            return null;
        }
        catch (TomlException e)
        {
            var at = e.Line is { } line && e.Column is { } column
                ? new SourceLocation(fileName, Math.Max(1, line), Math.Max(1, column))
                : DeepNesting(text, fileName) ?? new SourceLocation(fileName, 1, 1);
            var tooDeep = e.Message.Contains("depth", StringComparison.OrdinalIgnoreCase);
            bag.Error(at, tooDeep ? "invalid TOML: values nest too deeply" : "invalid TOML: the parser stopped here", tooDeep ? "nest arrays and tables at most a few levels deep" : TomlHint);
            return null;
        }

        var builder = new TomlTreeBuilder(fileName);
        if (document.HasErrors)
        {
            ReportSyntaxErrors(document, builder, bag, End(text, fileName));
            return null;
        }

        return builder.Build(document);
    }

    private static void ReportSyntaxErrors(DocumentSyntax document, TomlTreeBuilder builder, DiagnosticBag bag, SourceLocation end)
    {
        // Tomlyn reports an unclosed string late (at a following line) and then once per line until a quote
        // closes it; point at where the string starts instead, and drop the echoes inside it.
        var unclosed = new List<SourceSpan>();
        FindUnclosedStrings(document, unclosed, depth: 0);
        foreach (var span in unclosed)
        {
            bag.Error(builder.At(span), "invalid TOML: this string is not closed on its line", "end it with the same quote it starts with, or use \"\"\" for a multi-line string");
        }

        var reported = new HashSet<(int, string)>();
        foreach (var message in document.Diagnostics)
        {
            var at = message.Span.Start.Line < 0 ? end : builder.At(message.Span);
            if (unclosed.Any(s => Inside(message.Span, s)) && message.Message.Contains("string", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var (text, hint) = Describe(message.Message);
            if (!reported.Add((at.Line, text)))
            {
                continue;
            }

            if (message.Kind == DiagnosticMessageKind.Warning)
            {
                bag.Warning(at, text, hint);
            }
            else
            {
                bag.Error(at, text, hint);
            }
        }
    }

    /// <summary>Tomlyn's message as "invalid TOML: …" with a hint, rephrasing the common ones.</summary>
    private static (string Message, string Hint) Describe(string tomlyn)
    {
        var redefined = RedefinedKey().Match(tomlyn);
        if (redefined.Success)
        {
            return ($"invalid TOML: '{redefined.Groups[1].Value}' is defined twice (first at line {redefined.Groups[2].Value})", "define each key and table once; use [[name]] for a list of tables");
        }

        var text = tomlyn.Replace("␤", "end of line", StringComparison.Ordinal).Trim().TrimEnd('.');
        if (text.Length > 0)
        {
            text = char.ToLowerInvariant(text[0]) + text[1..];
        }

        return ($"invalid TOML: {text}", TomlHint);
    }

    private static void FindUnclosedStrings(SyntaxNode? node, List<SourceSpan> found, int depth)
    {
        if (node is null || depth > 200)
        {
            return;
        }

        if (node is StringValueSyntax { Token.Text: { } raw } && raw.Length > 0 && !raw.StartsWith("\"\"\"", StringComparison.Ordinal) && !raw.StartsWith("'''", StringComparison.Ordinal)
            && (raw.Contains('\n', StringComparison.Ordinal) || raw.Contains('\r', StringComparison.Ordinal)))
        {
            found.Add(node.Span);
            return;
        }

        for (var i = 0; i < node.ChildrenCount; i++)
        {
            FindUnclosedStrings(node.GetChild(i), found, depth + 1);
        }
    }

    private static bool Inside(SourceSpan inner, SourceSpan outer) =>
        inner.Start.Offset >= outer.Start.Offset && inner.Start.Offset <= outer.End.Offset + 1;

    /// <summary>Where brackets first nest deeper than Tomlyn allows (it says only that they do).</summary>
    private static SourceLocation? DeepNesting(string text, string fileName)
    {
        var depth = 0;
        var line = 1;
        var column = 0;
        var quote = '\0';
        var comment = false;
        foreach (var c in text)
        {
            column++;
            if (c == '\n')
            {
                line++;
                column = 0;
                comment = false;
                quote = '\0';
                continue;
            }

            if (comment)
            {
                continue;
            }

            if (quote != '\0')
            {
                quote = c == quote ? '\0' : quote;
                continue;
            }

            switch (c)
            {
                case '#':
                    comment = true;
                    break;
                case '"' or '\'':
                    quote = c;
                    break;
                case '[' or '{':
                    if (++depth > 32)
                    {
                        return new SourceLocation(fileName, line, column);
                    }

                    break;
                case ']' or '}':
                    depth = Math.Max(0, depth - 1);
                    break;
            }
        }

        return null;
    }

    private static byte[] ReadAtMost(Stream stream, int limit)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            using var memory = new MemoryStream();
            int read;
            while (memory.Length < limit && (read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, limit - memory.Length))) > 0)
            {
                memory.Write(buffer, 0, read);
            }

            return memory.ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Strict UTF-8 (a BOM is skipped); on failure, where the first bad byte is.</summary>
    private static bool TryDecode(byte[] bytes, string fileName, out string text, out SourceLocation invalid)
    {
        ReadOnlySpan<byte> data = bytes;
        if (data.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            data = data[3..];
        }

        var chars = new char[data.Length];
        var status = System.Text.Unicode.Utf8.ToUtf16(data, chars, out var read, out var written, replaceInvalidSequences: false);
        if (status == OperationStatus.Done)
        {
            text = new string(chars, 0, written);
            invalid = default;
            return true;
        }

        var before = chars.AsSpan(0, written);
        var lastNewline = before.LastIndexOf('\n');
        invalid = new SourceLocation(fileName, before.Count('\n') + 1, written - lastNewline);
        text = "";
        return false;
    }

    /// <summary>The last character of the text, for errors Tomlyn places at the end of the file.</summary>
    private static SourceLocation End(string text, string fileName)
    {
        var body = text.AsSpan().TrimEnd();
        var lastNewline = body.LastIndexOf('\n');
        return new SourceLocation(fileName, body.Count('\n') + 1, Math.Max(1, body.Length - lastNewline - 1));
    }

    private static LoadResult Failed(SourceLocation at, string message, string hint) =>
        new(null, [new Diagnostic(DiagnosticSeverity.Error, at, message, hint)]);

    [GeneratedRegex(@"^The key `(.+?)` is already defined at \((\d+),\d+\)")]
    private static partial Regex RedefinedKey();
}
