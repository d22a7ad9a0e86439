namespace Shaper.Rules;

/// <summary>
/// Parses durations: one or more whole numbers each followed by a unit, largest unit first, each unit
/// once: <c>500ms</c>, <c>10s</c>, <c>5m</c>, <c>1h</c>, <c>1d</c>, <c>1h30m</c>, <c>2m30s</c>. Units are
/// <c>d</c>, <c>h</c>, <c>m</c> (minutes), <c>s</c> and <c>ms</c>. A duration is above zero and at most
/// 365 days.
/// </summary>
internal static class DurationParser
{
    public static readonly TimeSpan Max = TimeSpan.FromDays(365);

    private const string Example = "write a number and a unit (ms, s, m, h, d), e.g. \"500ms\", \"10s\", \"5m\" or \"1h30m\"";

    private static readonly (string Name, long Ms)[] Units =
    [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];

    public static bool TryParse(string text, out TimeSpan duration, out ValueError error)
    {
        duration = default;
        var trimmed = text.Trim();
        if (trimmed.Length == 0)
        {
            error = new ValueError("the duration is empty", Example);
            return false;
        }

        long totalMs = 0;
        var lastUnit = -1;
        var i = 0;
        while (i < trimmed.Length)
        {
            var start = i;
            while (i < trimmed.Length && char.IsAsciiDigit(trimmed[i]))
            {
                i++;
            }

            if (i == start)
            {
                error = new ValueError($"'{text}' is not a duration", trimmed[i] is '.' or ',' ? "use whole numbers, e.g. \"1h30m\" rather than \"1.5h\"" : Example);
                return false;
            }

            var digits = trimmed[start..i];
            var unitStart = i;
            while (i < trimmed.Length && char.IsAsciiLetter(trimmed[i]))
            {
                i++;
            }

            var unitText = trimmed[unitStart..i];
            if (unitText.Length == 0)
            {
                error = new ValueError(
                    i < trimmed.Length ? $"'{text}' is not a duration" : $"'{text}' has no unit",
                    i < trimmed.Length && trimmed[i] is '.' or ',' ? "use whole numbers, e.g. \"1h30m\" rather than \"1.5h\"" : Example);
                return false;
            }

            var unit = Array.FindIndex(Units, u => u.Name == unitText);
            if (unit < 0)
            {
                var near = NameSuggester.Nearest(unitText, ["ms", "s", "m", "h", "d"]);
                error = new ValueError(
                    $"unknown unit '{unitText}' in '{text}'",
                    near is not null && unitText.Length > 1 ? $"did you mean '{near}'? units are ms, s, m, h, d" : "units are ms, s, m (minutes), h and d");
                return false;
            }

            if (unit <= lastUnit)
            {
                error = new ValueError($"'{text}' repeats a unit or puts a smaller one first", "write the largest unit first, each once, e.g. \"1h30m\"");
                return false;
            }

            lastUnit = unit;
            if (!long.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var amount)
                || amount > (long)Max.TotalMilliseconds / Units[unit].Ms
                || (totalMs += amount * Units[unit].Ms) > (long)Max.TotalMilliseconds)
            {
                error = new ValueError($"'{text}' is longer than 365 days", "write at most \"365d\"");
                return false;
            }
        }

        if (totalMs == 0)
        {
            error = new ValueError($"'{text}' is zero", "write a duration above zero, e.g. \"10s\"");
            return false;
        }

        duration = TimeSpan.FromMilliseconds(totalMs);
        error = default;
        return true;
    }
}
