using Shaper.Rules;

namespace Shaper.Tests.Rules;

/// <summary>Loads TOML text the way the daemon does, under the file name "shaper.toml".</summary>
internal static class ConfigText
{
    public const string File = "shaper.toml";

    /// <summary>A valid rule, lines 1 to 4, for cases that add one line at line 5.</summary>
    public const string Rule = "[[rule]]\nname = \"r1\"\nrate = \"10/s\"\nburst = 5\n";

    public static LoadResult Load(string toml) => ConfigLoader.Parse(toml, File);

    public static string[] Lines(LoadResult result) => [.. result.Diagnostics.Select(d => d.ToString())];

    public static string[] Errors(LoadResult result) => [.. result.Diagnostics.Where(d => d.IsError).Select(d => d.ToString())];

    public static string[] Warnings(LoadResult result) => [.. result.Diagnostics.Where(d => !d.IsError).Select(d => d.ToString())];
}
