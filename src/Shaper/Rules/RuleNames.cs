namespace Shaper.Rules;

/// <summary>
/// Rule names become parts of kernel object names (<c>m_&lt;rule&gt;_v4</c>), so they are 1 to 24 characters
/// of <c>a-z</c>, <c>0-9</c> and <c>-</c>, starting with a letter or digit.
/// </summary>
internal static class RuleNames
{
    public const int MaxLength = 24;

    public const string Rule = "use 1 to 24 characters of a-z, 0-9 and '-', starting with a letter or digit";

    public static bool IsValid(string name)
    {
        if (name.Length is 0 or > MaxLength || name[0] == '-')
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!char.IsAsciiLetterLower(c) && !char.IsAsciiDigit(c) && c != '-')
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A valid name close to <paramref name="name"/> ("SSH_New" gives "ssh-new"), or null.</summary>
    public static string? Suggest(string name)
    {
        var chars = name.ToLowerInvariant().Select(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) ? c : '-').ToArray();
        var suggestion = new string(chars).Trim('-');
        while (suggestion.Contains("--", StringComparison.Ordinal))
        {
            suggestion = suggestion.Replace("--", "-", StringComparison.Ordinal);
        }

        if (suggestion.Length > MaxLength)
        {
            suggestion = suggestion[..MaxLength].TrimEnd('-');
        }

        return IsValid(suggestion) ? suggestion : null;
    }
}
