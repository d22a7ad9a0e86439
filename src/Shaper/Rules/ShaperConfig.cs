using System.Net;

namespace Shaper.Rules;

/// <summary>The whole validated configuration of <c>/etc/shaper/shaper.toml</c> (DESIGN.md, Configuration).</summary>
public sealed record ShaperConfig
{
    /// <summary>The <c>[daemon]</c> table.</summary>
    public DaemonSettings Daemon { get; init; } = new();

    /// <summary>The <c>[global]</c> host-wide cap; null when the file has none.</summary>
    public GlobalLimit? Global { get; init; }

    /// <summary>Every <c>[[allow]]</c> CIDR, in file order: never limited, never blocked.</summary>
    public IReadOnlyList<IPNetwork> Allow { get; init; } = [];

    /// <summary>The <c>[[rule]]</c> entries, in file order.</summary>
    public IReadOnlyList<Rule> Rules { get; init; } = [];

    /// <summary>The <c>[fleet]</c> section, or null when the file has none (then no rule may have <c>scope = "fleet"</c>).</summary>
    public FleetSettings? Fleet { get; init; }

    /// <summary>The file the configuration came from, for messages.</summary>
    public string? SourceFile { get; init; }
}
