namespace Shaper.Rules;

/// <summary>The kind of key a rule's limit is kept per.</summary>
public enum KeyKind
{
    /// <summary>Source address or prefix.</summary>
    Source,

    /// <summary>Destination address.</summary>
    Destination,

    /// <summary>Source address and destination port.</summary>
    SourceAndDport,

    /// <summary>One key for the whole rule.</summary>
    Rule,
}
