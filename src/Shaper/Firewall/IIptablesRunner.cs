namespace Shaper.Firewall;

/// <summary>Runs iptables-restore and iptables-save for one family: the seam between the iptables backend and the kernel.</summary>
public interface IIptablesRunner
{
    /// <summary>
    /// Runs <paramref name="script"/> through <c>iptables-restore --noflush</c> (ip6tables-restore when not
    /// <paramref name="v4"/>) as one transaction; with <paramref name="test"/> only parses it (<c>--test</c>).
    /// </summary>
    NftResult Restore(bool v4, string script, bool test = false);

    /// <summary>The table filter as <c>iptables-save</c> prints it; with <paramref name="counters"/> each rule's packet and byte counts.</summary>
    NftResult Save(bool v4, bool counters = false);
}
