using System.Globalization;
using System.Text;

namespace Shaper.Rules;

/// <summary>
/// Keeps text from the file safe inside a one-line diagnostic: control, format and line-separator characters
/// become <c>\uXXXX</c> escapes (a quoted TOML key may hold a newline or a bidi override), and very long
/// text is cut.
/// </summary>
internal static class MessageText
{
    public const int MaxLength = 500;

    /// <summary>Short form for names inside messages: at most 40 characters.</summary>
    public static string Short(string text) => text.Length <= 40 ? text : text[..40] + "…";

    public static string OneLine(string text, int maxLength = MaxLength)
    {
        var builder = new StringBuilder(Math.Min(text.Length, maxLength + 8));
        foreach (var c in text)
        {
            if (builder.Length >= maxLength)
            {
                builder.Append('…');
                break;
            }

            var category = char.GetUnicodeCategory(c);
            if (char.IsControl(c) || category is UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
            {
                builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }
}
