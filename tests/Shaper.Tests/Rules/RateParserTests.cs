using Shaper.Rules;

namespace Shaper.Tests.Rules;

public sealed class RateParserTests
{
    private const long S = 1_000_000_000L;

    public static TheoryData<string, long, long, RateUnit> Valid => new()
    {
        // Packet rates keep the period as written, unreduced.
        { "10/s", 10, S, RateUnit.Packets },
        { "10/sec", 10, S, RateUnit.Packets },
        { "10/second", 10, S, RateUnit.Packets },
        { "10/minute", 10, 60 * S, RateUnit.Packets },
        { "10/min", 10, 60 * S, RateUnit.Packets },
        { "10/m", 10, 60 * S, RateUnit.Packets },
        { "3/hour", 3, 3600 * S, RateUnit.Packets },
        { "3/h", 3, 3600 * S, RateUnit.Packets },
        { "100/day", 100, 86_400 * S, RateUnit.Packets },
        { "100/d", 100, 86_400 * S, RateUnit.Packets },
        { "20000/s", 20_000, S, RateUnit.Packets },

        // Spaces around the parts are optional.
        { " 10 / s ", 10, S, RateUnit.Packets },

        // Decimals become an exact fraction: 0.5/s is one every 2 s, 2.5/minute is 5 every 2 minutes.
        { "0.5/s", 1, 2 * S, RateUnit.Packets },
        { "2.5/minute", 5, 120 * S, RateUnit.Packets },

        // Byte units are 1024-based, as nftables measures them.
        { "1 bytes/s", 1, S, RateUnit.Bytes },
        { "1 kbytes/s", 1024, S, RateUnit.Bytes },
        { "1 mbytes/s", 1_048_576, S, RateUnit.Bytes },
        { "1mbytes/s", 1_048_576, S, RateUnit.Bytes },
        { "2 gbytes/s", 2L * 1024 * 1024 * 1024, S, RateUnit.Bytes },
        { "1.5 mbytes/s", 1_572_864, S, RateUnit.Bytes },
        { "1 MBytes/Second", 1_048_576, S, RateUnit.Bytes },
        { "64 kbytes/minute", 65_536, 60 * S, RateUnit.Bytes },

        // Bit units are 1000-based, as tc, and stored as bytes.
        { "8 mbit/s", 1_000_000, S, RateUnit.Bytes },
        { "1 kbit/s", 125, S, RateUnit.Bytes },
        { "1 gbit/s", 125_000_000, S, RateUnit.Bytes },

        // 1 bit/s is not a whole number of bytes a second: the period grows instead (1 byte per 8 s).
        { "1 bit/s", 1, 8 * S, RateUnit.Bytes },
        { "12 bit/s", 3, 2 * S, RateUnit.Bytes },
    };

    public static TheoryData<string, string, string> Invalid => new()
    {
        // No period at all.
        { "10", "'10' has no period", "write it as N/s, N/minute, N/hour or N/day, e.g. \"10/s\"" },

        // No number.
        { "/s", "'/s' does not start with a number", "write a positive number first, e.g. \"10/s\" or \"1 mbytes/s\"" },
        { "-5/s", "'-5/s' does not start with a number", "write a positive number first, e.g. \"10/s\" or \"1 mbytes/s\"" },

        // Malformed numbers: two dots, ten decimals.
        { "1.2.3/s", "'1.2.3' in '1.2.3/s' is not a number", "write a whole or decimal number with at most 9 decimals, e.g. \"10/s\" or \"0.5/s\"" },
        { "0.1234567891/s", "'0.1234567891' in '0.1234567891/s' is not a number", "write a whole or decimal number with at most 9 decimals, e.g. \"10/s\" or \"0.5/s\"" },

        // A misspelt period gets the nearest one; an unknown one gets the list.
        { "10/minuet", "unknown period 'minuet' in '10/minuet'", "did you mean 'minute'?" },
        { "10/fortnight", "unknown period 'fortnight' in '10/fortnight'", "the period is s, second, minute, hour or day, e.g. \"10/minute\"" },

        // A misspelt unit gets the nearest one; "packets" is not a unit (packet rates have none).
        { "10 mbyte/s", "unknown unit 'mbyte' in '10 mbyte/s'", "did you mean 'mbytes'?" },
        { "10 packets/s", "unknown unit 'packets' in '10 packets/s'", "packet rates have no unit (\"10/s\"); byte rates use bytes, kbytes, mbytes, gbytes (1024-based) or bit, kbit, mbit, gbit (1000-based)" },

        // Zero is not a rate.
        { "0/s", "rate '0/s' is zero", "write a rate above zero; to stop all matching traffic use a firewall rule, not a limit" },
        { "0.000/s", "rate '0.000/s' is zero", "write a rate above zero; to stop all matching traffic use a firewall rule, not a limit" },

        // Too large for a long, before and after the unit.
        { "99999999999999999999/s", "rate '99999999999999999999/s' is too large", "write a smaller rate" },
        { "9000000000 gbytes/s", "rate '9000000000 gbytes/s' is too large", "write a smaller rate" },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void TryParse_ValidForm_GivesExactRate(string text, long amount, long periodNs, RateUnit unit)
    {
        Assert.True(RateParser.TryParse(text, out var rate, out var error), error.Message);

        Assert.Equal(amount, rate.Rate.Amount);
        Assert.Equal(periodNs, rate.Rate.PeriodNs);
        Assert.Equal(unit, rate.Unit);
        Assert.Equal(text, rate.Text);
    }

    [Theory]
    [MemberData(nameof(Invalid))]
    public void TryParse_InvalidForm_SaysWhatIsWrongAndWhatIsRight(string text, string message, string hint)
    {
        Assert.False(RateParser.TryParse(text, out var rate, out var error));

        Assert.Null(rate);
        Assert.Equal(message, error.Message);
        Assert.Equal(hint, error.Hint);
    }

    [Theory]
    [InlineData(10, S, "10/second")] // already per second
    [InlineData(1, 2 * S, "30/minute")] // 0.5/s
    [InlineData(10, 60 * S, "10/minute")] // not a whole number per second
    [InlineData(1, 8 * S, "450/hour")] // 1 bit/s in bytes
    public void AsWholeKernelRate_WholeInSomeUnit_GivesTheSmallestSuchUnit(long amount, long periodNs, string expected)
    {
        Assert.Equal(expected, RateParser.AsWholeKernelRate(new Shaper.Limiting.Rate(amount, periodNs)));
    }

    [Fact]
    public void AsWholeKernelRate_NotWholeInAnyUnit_GivesNull()
    {
        // 1 per 7 s is 12342.857… a day.
        Assert.Null(RateParser.AsWholeKernelRate(new Shaper.Limiting.Rate(1, 7 * S)));
    }
}
