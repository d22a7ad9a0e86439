using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Shaper.Limiting;

namespace Shaper.Rules;

/// <summary>
/// Parses rates: <c>N/s</c> (packets) and <c>N UNIT/s</c> (bytes), where N is a whole or decimal number
/// and the period is <c>s</c>, <c>sec</c>, <c>second</c>, <c>m</c>, <c>min</c>, <c>minute</c>, <c>h</c>,
/// <c>hour</c>, <c>d</c> or <c>day</c>. Units and periods are case-insensitive; spaces around them are optional.
/// <list type="bullet">
/// <item>Byte units are 1024-based, as in nftables (measured: <c>1 mbytes/second</c> passes 1,048,576 B/s):
/// <c>bytes</c> = 1, <c>kbytes</c> = 1024, <c>mbytes</c> = 1024², <c>gbytes</c> = 1024³.</item>
/// <item>Bit units are 1000-based, as in tc and in every link speed: <c>bit</c> = 1, <c>kbit</c> = 1000,
/// <c>mbit</c> = 10⁶, <c>gbit</c> = 10⁹ bits; they are stored as bytes (÷ 8), exactly, by lengthening the period
/// when the bits do not divide by 8.</item>
/// </list>
/// A whole-number rate keeps its period as written (<c>10/minute</c> is 10 per 60 s, not 1 per 6 s) so that
/// the kernel backends can write it back in the same unit. See <c>UNITS.md</c>.
/// </summary>
internal static class RateParser
{
    private const long NsPerSecond = 1_000_000_000L;
    private const int MaxDecimals = 9;

    private static readonly (string Name, long Multiplier, bool Bits)[] Units =
    [
        ("bytes", 1, false),
        ("kbytes", 1024, false),
        ("mbytes", 1024 * 1024, false),
        ("gbytes", 1024L * 1024 * 1024, false),
        ("bit", 1, true),
        ("kbit", 1_000, true),
        ("mbit", 1_000_000, true),
        ("gbit", 1_000_000_000, true),
    ];

    private static readonly (string Name, long Ns)[] Periods =
    [
        ("s", NsPerSecond),
        ("sec", NsPerSecond),
        ("second", NsPerSecond),
        ("m", 60 * NsPerSecond),
        ("min", 60 * NsPerSecond),
        ("minute", 60 * NsPerSecond),
        ("h", 3600 * NsPerSecond),
        ("hour", 3600 * NsPerSecond),
        ("d", 86_400 * NsPerSecond),
        ("day", 86_400 * NsPerSecond),
    ];

    /// <summary>The unit names, for messages.</summary>
    public static IReadOnlyList<string> UnitNames { get; } = [.. Units.Select(u => u.Name)];

    public static bool TryParse(string text, [NotNullWhen(true)] out RateSpec? rate, out ValueError error)
    {
        rate = null;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            error = new ValueError($"'{text}' has no period", "write it as N/s, N/minute, N/hour or N/day, e.g. \"10/s\"");
            return false;
        }

        var head = text[..slash].Trim();
        var periodText = text[(slash + 1)..].Trim().ToLowerInvariant();
        var numberLength = 0;
        while (numberLength < head.Length && (char.IsAsciiDigit(head[numberLength]) || head[numberLength] == '.'))
        {
            numberLength++;
        }

        var numberText = head[..numberLength];
        var unitText = head[numberLength..].Trim().ToLowerInvariant();
        if (numberText.Length == 0)
        {
            error = new ValueError($"'{text}' does not start with a number", "write a positive number first, e.g. \"10/s\" or \"1 mbytes/s\"");
            return false;
        }

        if (!TryParseDecimal(numberText, out var mantissa, out var scale, out var tooLarge))
        {
            if (tooLarge)
            {
                error = new ValueError($"rate '{text}' is too large", "write a smaller rate");
                return false;
            }

            error = new ValueError($"'{numberText}' in '{text}' is not a number", $"write a whole or decimal number with at most {MaxDecimals} decimals, e.g. \"10/s\" or \"0.5/s\"");
            return false;
        }

        long multiplier = 1;
        var bits = false;
        var unit = RateUnit.Packets;
        if (unitText.Length > 0)
        {
            var found = Array.FindIndex(Units, u => u.Name == unitText);
            if (found < 0)
            {
                var hint = NameSuggester.Nearest(unitText, UnitNames) is { } near
                    ? $"did you mean '{near}'?"
                    : "packet rates have no unit (\"10/s\"); byte rates use bytes, kbytes, mbytes, gbytes (1024-based) or bit, kbit, mbit, gbit (1000-based)";
                error = new ValueError($"unknown unit '{unitText}' in '{text}'", hint);
                return false;
            }

            (_, multiplier, bits) = Units[found];
            unit = RateUnit.Bytes;
        }

        var period = Array.FindIndex(Periods, p => p.Name == periodText);
        if (period < 0)
        {
            var near = NameSuggester.Nearest(periodText, ["second", "minute", "hour", "day"]);
            error = new ValueError(
                $"unknown period '{periodText}' in '{text}'",
                near is not null ? $"did you mean '{near}'?" : "the period is s, second, minute, hour or day, e.g. \"10/minute\"");
            return false;
        }

        if (mantissa == 0)
        {
            error = new ValueError($"rate '{text}' is zero", "write a rate above zero; to stop all matching traffic use a firewall rule, not a limit");
            return false;
        }

        // amount / periodNs = mantissa × multiplier / (period × 10^scale × (bits ? 8 : 1)).
        Int128 amount = (Int128)mantissa * multiplier;
        Int128 extra = Pow10(scale) * (bits ? 8 : 1);
        var divisor = Gcd(amount, extra);
        amount /= divisor;
        Int128 periodNs = (Int128)Periods[period].Ns * (extra / divisor);
        if (amount > long.MaxValue || periodNs > long.MaxValue)
        {
            error = new ValueError($"rate '{text}' is too large", "write a smaller rate");
            return false;
        }

        rate = new RateSpec(new Rate((long)amount, (long)periodNs), unit, text);
        error = default;
        return true;
    }

    /// <summary>
    /// The same rate as a whole number per second, minute, hour or day (how nft and iptables write rates),
    /// or null when it is not one: "0.5/s" is "30/minute", "1 bit/s" has none.
    /// </summary>
    public static string? AsWholeKernelRate(Rate rate)
    {
        foreach (var (name, ns) in new[] { ("second", NsPerSecond), ("minute", 60 * NsPerSecond), ("hour", 3600 * NsPerSecond), ("day", 86_400 * NsPerSecond) })
        {
            Int128 scaled = (Int128)rate.Amount * ns;
            if (scaled % rate.PeriodNs == 0)
            {
                return $"{scaled / rate.PeriodNs}/{name}";
            }
        }

        return null;
    }

    private static bool TryParseDecimal(string text, out long mantissa, out int scale, out bool tooLarge)
    {
        mantissa = 0;
        scale = 0;
        tooLarge = false;
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        var whole = dot < 0 ? text : text[..dot];
        var fraction = dot < 0 ? "" : text[(dot + 1)..];
        if (whole.Length == 0 || (dot >= 0 && fraction.Length == 0) || fraction.Contains('.', StringComparison.Ordinal) || fraction.Length > MaxDecimals)
        {
            return false;
        }

        fraction = fraction.TrimEnd('0');
        scale = fraction.Length;
        if (!long.TryParse(whole + fraction, NumberStyles.None, CultureInfo.InvariantCulture, out mantissa))
        {
            tooLarge = true;
            return false;
        }

        return true;
    }

    private static Int128 Pow10(int exponent)
    {
        Int128 result = 1;
        for (var i = 0; i < exponent; i++)
        {
            result *= 10;
        }

        return result;
    }

    private static Int128 Gcd(Int128 a, Int128 b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }

        return a;
    }
}
