namespace Shaper.Rules;

/// <summary>Finds the valid name nearest to a misspelt one, for "did you mean …?" hints.</summary>
internal static class NameSuggester
{
    /// <summary>
    /// The candidate with the smallest edit distance (insert, delete, substitute, swap two neighbours;
    /// case ignored), or null when none is close: at most 1 edit for names up to 5 characters,
    /// 2 up to 8, 3 beyond. Ties go to the earlier candidate.
    /// </summary>
    public static string? Nearest(string input, IEnumerable<string> candidates)
    {
        var allowed = input.Length <= 5 ? 1 : input.Length <= 8 ? 2 : 3;
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            var distance = Distance(input.ToLowerInvariant(), candidate.ToLowerInvariant());
            if (distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }

        return bestDistance <= allowed ? best : null;
    }

    /// <summary>Optimal string alignment distance: Levenshtein plus transposition of adjacent characters.</summary>
    public static int Distance(string a, string b)
    {
        if (a.Length > 64 || b.Length > 64)
        {
            // Names are short; a long input is not a typo of one, and this keeps the table small.
            return Math.Max(a.Length, b.Length);
        }

        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }

    /// <summary>The hint for an unknown name: "did you mean 'x'?" or the list of valid names.</summary>
    public static string Hint(string input, IReadOnlyList<string> candidates, string listIntro = "valid names are")
    {
        var nearest = Nearest(input, candidates);
        return nearest is not null
            ? $"did you mean '{nearest}'?"
            : $"{listIntro} {string.Join(", ", candidates)}";
    }
}
