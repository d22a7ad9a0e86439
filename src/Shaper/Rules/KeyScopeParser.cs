using System.Globalization;

namespace Shaper.Rules;

/// <summary>Parses a rule's <c>per</c>: <c>src</c>, <c>dst</c>, <c>src+dport</c>, <c>rule</c> or <c>src/N</c> (see <see cref="KeyScope"/>).</summary>
internal static class KeyScopeParser
{
    public static readonly IReadOnlyList<string> Names = ["src", "dst", "src+dport", "rule", "src/24", "src/64"];

    public static bool TryParse(string text, out KeyScope scope, out ValueError error)
    {
        error = default;
        switch (text)
        {
            case "src":
                scope = KeyScope.Source;
                return true;
            case "dst":
                scope = KeyScope.Destination;
                return true;
            case "src+dport":
                scope = KeyScope.SourceAndDport;
                return true;
            case "rule":
                scope = KeyScope.WholeRule;
                return true;
        }

        scope = default;
        if (text.StartsWith("src/", StringComparison.Ordinal))
        {
            var digits = text[4..];
            if (digits.Length is > 0 and <= 3 && digits.All(char.IsAsciiDigit) && (digits.Length == 1 || digits[0] != '0')
                && int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var prefix) && prefix <= 128)
            {
                if (prefix == 0)
                {
                    error = new ValueError("'src/0' puts every source in one bucket", "write per = \"rule\" for one bucket, or a prefix from 1 to 128");
                    return false;
                }

                // KeyScope: N <= 32 is an IPv4 prefix (IPv6 sources are keyed by /64); N > 32 an IPv6 one.
                scope = prefix <= 32 ? new KeyScope(KeyKind.Source, prefix, 64) : new KeyScope(KeyKind.Source, 32, prefix);
                return true;
            }

            error = new ValueError($"'{text}' has a bad prefix length", "write src/N with N from 1 to 128, e.g. \"src/24\" (IPv4) or \"src/64\" (IPv6)");
            return false;
        }

        error = new ValueError($"'{text}' is not a key", NameSuggester.Hint(text, Names, "write one of"));
        return false;
    }
}
