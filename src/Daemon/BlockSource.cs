namespace Shaper.Daemon;

/// <summary>
/// Who decided a block, as the block store keeps it beside the block: <c>manual</c> (<c>shaperctl block add</c>),
/// <c>rule:NAME</c> (an observe rule with <c>action = "block"</c>), or <c>fleet:HOST</c> (installed from the fleet's
/// blocks, published by HOST). Blocks a store from before sources were kept holds have none (<c>unknown</c>).
/// </summary>
internal static class BlockSource
{
    public const string Manual = "manual";

    private const string RulePrefix = "rule:";
    private const string FleetPrefix = "fleet:";

    public static string Rule(string name) => RulePrefix + name;

    public static string Fleet(string host) => FleetPrefix + host;

    /// <summary>The kind (<c>manual</c>, <c>rule</c>, <c>fleet</c> or <c>unknown</c>) and its detail: the rule's name, the publishing host, or "".</summary>
    public static (string Kind, string Detail) Parse(string? source) =>
        source is null ? ("unknown", "")
        : source.StartsWith(RulePrefix, StringComparison.Ordinal) ? ("rule", source[RulePrefix.Length..])
        : source.StartsWith(FleetPrefix, StringComparison.Ordinal) ? ("fleet", source[FleetPrefix.Length..])
        : (source, "");

    /// <summary>The source as <c>block list</c> prints it: <c>manual</c>, <c>rule ssh-new</c>, <c>fleet from web-2</c>.</summary>
    public static string Describe(string? source) => Parse(source) switch
    {
        ("rule", var rule) => "rule " + rule,
        ("fleet", var host) => host.Length > 0 ? "fleet from " + host : "fleet",
        var (kind, _) => kind,
    };
}
