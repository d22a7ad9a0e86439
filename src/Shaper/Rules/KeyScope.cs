namespace Shaper.Rules;

/// <summary>
/// A rule's <c>per</c>: what its limit is kept per. <c>src/N</c> with N ≤ 32 keys IPv4 sources by their
/// /N and IPv6 sources by their /64 (the smallest prefix one host is normally given); <c>src/N</c> with
/// N &gt; 32 keys IPv6 sources by /N and IPv4 sources by address.
/// </summary>
/// <param name="Kind">Source, destination, source and destination port, or one bucket for the rule.</param>
/// <param name="V4Prefix">Prefix length applied to IPv4 keys (32 = the address).</param>
/// <param name="V6Prefix">Prefix length applied to IPv6 keys (128 = the address).</param>
public readonly record struct KeyScope(KeyKind Kind, int V4Prefix, int V6Prefix)
{
    /// <summary><c>per = "src"</c>.</summary>
    public static KeyScope Source => new(KeyKind.Source, 32, 128);

    /// <summary><c>per = "dst"</c>.</summary>
    public static KeyScope Destination => new(KeyKind.Destination, 32, 128);

    /// <summary><c>per = "src+dport"</c>.</summary>
    public static KeyScope SourceAndDport => new(KeyKind.SourceAndDport, 32, 128);

    /// <summary><c>per = "rule"</c>: one bucket shared by every packet the rule matches.</summary>
    public static KeyScope WholeRule => new(KeyKind.Rule, 0, 0);

    /// <summary>The text form used in the file (<c>src</c>, <c>src/24</c>, <c>src/64</c>, …).</summary>
    public override string ToString() => Kind switch
    {
        KeyKind.Source when V4Prefix == 32 && V6Prefix == 128 => "src",
        KeyKind.Source when V4Prefix < 32 => $"src/{V4Prefix}",
        KeyKind.Source => $"src/{V6Prefix}",
        KeyKind.Destination => "dst",
        KeyKind.SourceAndDport => "src+dport",
        _ => "rule",
    };
}
