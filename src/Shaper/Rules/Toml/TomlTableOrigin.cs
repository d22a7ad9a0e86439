namespace Shaper.Rules.Toml;

/// <summary>How a table was written, so that messages can name it the way the user wrote it.</summary>
internal enum TomlTableOrigin
{
    /// <summary>The document itself.</summary>
    Root,

    /// <summary><c>[name]</c>.</summary>
    Header,

    /// <summary>One <c>[[name]]</c> entry.</summary>
    ArrayHeader,

    /// <summary><c>name = { … }</c>.</summary>
    Inline,

    /// <summary>Created by a dotted key (<c>a.b = 1</c>) or a dotted header (<c>[a.b]</c>).</summary>
    Implicit,
}
