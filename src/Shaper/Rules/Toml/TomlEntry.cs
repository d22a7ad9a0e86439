namespace Shaper.Rules.Toml;

/// <summary>One <c>key = value</c> (or table) in a table, with where the key is written.</summary>
internal sealed record TomlEntry(string Key, SourceLocation KeyLocation, TomlNode Value);
