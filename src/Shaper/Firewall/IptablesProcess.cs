namespace Shaper.Firewall;

/// <summary>iptables-restore and iptables-save (and their ip6tables twins) as processes.</summary>
public sealed class IptablesProcess : IIptablesRunner
{
    /// <inheritdoc />
    public NftResult Restore(bool v4, string script, bool test = false) =>
        ProcessCommand.Run(v4 ? "iptables-restore" : "ip6tables-restore", test ? ["-w", "5", "--noflush", "--test"] : ["-w", "5", "--noflush"], script);

    /// <inheritdoc />
    public NftResult Save(bool v4, bool counters = false) =>
        ProcessCommand.Run(v4 ? "iptables-save" : "ip6tables-save", counters ? ["-t", "filter", "-c"] : ["-t", "filter"]);
}
