namespace Shaper.Rules.Toml;

/// <summary>The TOML type of a value, for type checks and messages.</summary>
internal enum TomlValueKind
{
    String,
    Integer,
    Float,
    Boolean,
    DateTime,
    Array,
    Table,
}
