using Shaper.Rules;

namespace Shaper.Tests.Rules;

public sealed class DurationParserTests
{
    public static TheoryData<string, long> Valid => new()
    {
        // One unit each.
        { "500ms", 500 },
        { "10s", 10_000 },
        { "5m", 300_000 },
        { "1h", 3_600_000 },
        { "1d", 86_400_000 },

        // Combinations, largest unit first.
        { "1h30m", 5_400_000 },
        { "2m30s", 150_000 },
        { "1d2h3m4s5ms", 93_784_005 },

        // The longest allowed.
        { "365d", 365L * 86_400_000 },
    };

    public static TheoryData<string, string, string> Invalid => new()
    {
        // Empty.
        { "", "the duration is empty", "write a number and a unit (ms, s, m, h, d), e.g. \"500ms\", \"10s\", \"5m\" or \"1h30m\"" },

        // A bare number has no unit.
        { "10", "'10' has no unit", "write a number and a unit (ms, s, m, h, d), e.g. \"500ms\", \"10s\", \"5m\" or \"1h30m\"" },

        // Decimals are not taken: whole numbers in smaller units are exact.
        { "1.5h", "'1.5h' is not a duration", "use whole numbers, e.g. \"1h30m\" rather than \"1.5h\"" },

        // Unknown units.
        { "10x", "unknown unit 'x' in '10x'", "units are ms, s, m (minutes), h and d" },
        { "10sec", "unknown unit 'sec' in '10sec'", "units are ms, s, m (minutes), h and d" },

        // Order and repetition.
        { "30m1h", "'30m1h' repeats a unit or puts a smaller one first", "write the largest unit first, each once, e.g. \"1h30m\"" },
        { "1h1h", "'1h1h' repeats a unit or puts a smaller one first", "write the largest unit first, each once, e.g. \"1h30m\"" },

        // Out of range.
        { "0s", "'0s' is zero", "write a duration above zero, e.g. \"10s\"" },
        { "366d", "'366d' is longer than 365 days", "write at most \"365d\"" },
        { "99999999999999999999s", "'99999999999999999999s' is longer than 365 days", "write at most \"365d\"" },

        // Signs and spaces.
        { "-1s", "'-1s' is not a duration", "write a number and a unit (ms, s, m, h, d), e.g. \"500ms\", \"10s\", \"5m\" or \"1h30m\"" },
        { "1h 30m", "'1h 30m' is not a duration", "write a number and a unit (ms, s, m, h, d), e.g. \"500ms\", \"10s\", \"5m\" or \"1h30m\"" },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void TryParse_ValidForm_GivesExactDuration(string text, long milliseconds)
    {
        Assert.True(DurationParser.TryParse(text, out var duration, out var error), error.Message);

        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), duration);
    }

    [Theory]
    [MemberData(nameof(Invalid))]
    public void TryParse_InvalidForm_SaysWhatIsWrongAndWhatIsRight(string text, string message, string hint)
    {
        Assert.False(DurationParser.TryParse(text, out _, out var error));

        Assert.Equal(message, error.Message);
        Assert.Equal(hint, error.Hint);
    }
}
