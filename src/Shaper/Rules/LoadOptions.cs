namespace Shaper.Rules;

/// <summary>What <see cref="ConfigLoader"/> checks a configuration against besides its own consistency.</summary>
public sealed record LoadOptions
{
    /// <summary>
    /// The checks of <c>shaperctl rules validate</c>: every rule must have an enforcer under the file's own
    /// <c>[daemon]</c> settings. <c>backend = "auto"</c> is checked as nftables (what the daemon picks wherever
    /// nftables works), and what only iptables could not carry out is a warning, since auto falls back to it.
    /// </summary>
    public static LoadOptions Default { get; } = new();

    /// <summary>For <c>shaperctl replay</c>: no enforcer checks, since replay runs every rule's algorithm whatever its <c>enforce</c>.</summary>
    public static LoadOptions Replay { get; } = new() { CheckEnforcement = false };

    /// <summary>False: skip the checks of which enforcer carries each rule out.</summary>
    public bool CheckEnforcement { get; init; } = true;

    /// <summary>
    /// The daemon's: the kernel backend the file's <c>backend</c> comes to on this host (auto resolved), so that
    /// the rules are checked against the backend that will enforce them. Null: as <see cref="Default"/>.
    /// </summary>
    public Func<BackendKind, BackendKind>? ResolveBackend { get; init; }
}
