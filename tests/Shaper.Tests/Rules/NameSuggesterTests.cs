using Shaper.Rules;

namespace Shaper.Tests.Rules;

public sealed class NameSuggesterTests
{
    private static readonly string[] RuleKeys = ["name", "match", "per", "algorithm", "rate", "burst", "limit", "window", "queue", "enforce", "action", "block_for", "mode"];

    [Theory]
    [InlineData("burts", "burst")] // two letters swapped: one edit
    [InlineData("ratee", "rate")] // one letter too many
    [InlineData("algoritm", "algorithm")] // one letter missing
    [InlineData("blockfor", "block_for")] // the underscore missing
    [InlineData("Burst", "burst")] // case only
    [InlineData("enforced", "enforce")] // a suffix
    public void Nearest_Misspelling_GivesIntendedName(string input, string expected)
    {
        Assert.Equal(expected, NameSuggester.Nearest(input, RuleKeys));
    }

    [Theory]
    [InlineData("colour")] // nothing like any key
    [InlineData("x")] // too short to guess
    public void Nearest_NothingClose_GivesNull(string input)
    {
        Assert.Null(NameSuggester.Nearest(input, RuleKeys));
    }

    [Theory]
    [InlineData("", "", 0)] // both empty
    [InlineData("abc", "abc", 0)] // equal
    [InlineData("ab", "ba", 1)] // a swap is one edit
    [InlineData("kitten", "sitting", 3)] // the textbook case
    public void Distance_TwoStrings_IsOptimalStringAlignment(string a, string b, int expected)
    {
        Assert.Equal(expected, NameSuggester.Distance(a, b));
    }
}
