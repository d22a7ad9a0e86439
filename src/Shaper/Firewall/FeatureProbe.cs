using System.Globalization;
using Shaper.Rules;

namespace Shaper.Firewall;

/// <summary>
/// Finds out what this host's kernel and tools can do, for <c>shaperd --check</c> and the daemon's start:
/// nft and its meters and reject, iptables with hashlimit, REJECT and NFQUEUE, ipset, IFB, HTB and thread priority. A probe
/// that has to create something does it in a network namespace of its own (<c>shaper-probe-PID</c>), created
/// for the probe and deleted after it; the host's namespace is only asked for versions.
/// </summary>
public static class FeatureProbe
{
    /// <summary>nft runs and creates a table.</summary>
    public const string Nft = "nft";

    /// <summary>nft dynamic sets with a per-element limit (meters).</summary>
    public const string NftMeters = "nft-meters";

    /// <summary>nft's reject statement.</summary>
    public const string NftReject = "nft-reject";

    /// <summary>iptables-restore and ip6tables-restore create chains.</summary>
    public const string Iptables = "iptables";

    /// <summary>The hashlimit match, both families.</summary>
    public const string Hashlimit = "hashlimit";

    /// <summary>The REJECT target.</summary>
    public const string IptablesReject = "iptables-reject";

    /// <summary>The NFQUEUE target (nft's queue statement is not always built; the target through xt compat is).</summary>
    public const string Nfqueue = "nfqueue";

    /// <summary>The ipset tool.</summary>
    public const string Ipset = "ipset";

    /// <summary>IFB devices (ingress shaping with tc).</summary>
    public const string Ifb = "ifb";

    /// <summary>The HTB qdisc.</summary>
    public const string Htb = "htb";

    /// <summary>The capture, engine and block threads may run at <see cref="Threading.ThreadNice.EnforcementPath"/>.</summary>
    public const string ThreadNice = "thread-nice";

    private const string Probe = "shaper_probe";

    /// <summary>Probes every feature, in a throwaway namespace. Takes about half a second.</summary>
    public static IReadOnlyList<Feature> Run()
    {
        var ns = string.Create(CultureInfo.InvariantCulture, $"shaper-probe-{Environment.ProcessId}");
        var created = ProcessCommand.Run("ip", ["netns", "add", ns]);
        try
        {
            return Probes(created.Ok ? ns : null, created.Ok ? "" : "cannot create a probe namespace: " + created.Reason);
        }
        finally
        {
            if (created.Ok)
            {
                ProcessCommand.Run("ip", ["netns", "del", ns]);
            }
        }
    }

    /// <summary>True when nft can hold the shaper's kernel rules.</summary>
    public static bool NftUsable(IReadOnlyList<Feature> features) => Works(features, Nft) && Works(features, NftMeters);

    /// <summary>True when iptables can hold the shaper's kernel rules.</summary>
    public static bool IptablesUsable(IReadOnlyList<Feature> features) => Works(features, Iptables) && Works(features, Hashlimit);

    /// <summary>
    /// The backend <paramref name="configured"/> comes to on this host: auto is nftables when nft is usable,
    /// else iptables when that is; a forced one is itself. Null with <paramref name="why"/> when it is not usable.
    /// </summary>
    public static BackendKind? Choose(BackendKind configured, IReadOnlyList<Feature> features, out string why)
    {
        why = "";
        var nft = NftUsable(features);
        var iptables = IptablesUsable(features);
        switch (configured)
        {
            case BackendKind.None:
                return BackendKind.None;
            case BackendKind.Nftables when nft:
                return BackendKind.Nftables;
            case BackendKind.Iptables when iptables:
                return BackendKind.Iptables;
            case BackendKind.Auto when nft || iptables:
                return nft ? BackendKind.Nftables : BackendKind.Iptables;
            default:
                var missing = features.Where(f => !f.Works && f.Name is Nft or NftMeters or Iptables or Hashlimit).Select(f => f.Name);
                why = $"not usable here (missing: {string.Join(", ", missing)})";
                return null;
        }
    }

    private static bool Works(IReadOnlyList<Feature> features, string name) => features.Any(f => f.Name == name && f.Works);

    private static List<Feature> Probes(string? ns, string noNamespace)
    {
        var features = new List<Feature>();
        void Add(string name, NftResult result, string detail, string disables) =>
            features.Add(new Feature(name, result.Ok, result.Ok ? detail : Why(result), disables));

        NftResult In(string program, string[] args, string? stdin = null) =>
            ns is null ? new NftResult(false, "", noNamespace) : ProcessCommand.Run("ip", ["netns", "exec", ns, program, .. args], stdin, TimeSpan.FromSeconds(10));

        var nftVersion = ProcessCommand.Run("nft", ["--version"]);
        var table = $"add table inet {Probe}\nadd chain inet {Probe} input {{ type filter hook input priority 0; policy accept; }}\n";
        var nft = nftVersion.Ok ? In("nft", ["-f", "-"], table) : nftVersion;
        Add(Nft, nft, nftVersion.Output.Trim(), "backend nftables (auto falls back to iptables)");
        Add(NftMeters, nft.Ok ? In("nft", ["-f", "-"], $"add set inet {Probe} m {{ type ipv4_addr; size 16; flags dynamic,timeout; timeout 60s; }}\n"
            + $"add rule inet {Probe} input update @m {{ ip saddr limit rate over 10/second burst 5 packets }} drop\n") : nft,
            "dynamic sets with per-key limits", "kernel rules on nftables");
        Add(NftReject, nft.Ok ? In("nft", ["-f", "-"], $"add rule inet {Probe} input meta l4proto tcp reject with tcp reset\n"
            + $"add rule inet {Probe} input reject with icmpx type port-unreachable\n") : nft,
            "reject with tcp reset / icmpx", "action = \"reject\" on nftables");

        var iptablesVersion = ProcessCommand.Run("iptables", ["--version"]);
        var chain = $"*filter\n:SHAPER-PROBE - [0:0]\nCOMMIT\n";
        var iptables = iptablesVersion.Ok ? Both(In, chain) : iptablesVersion;
        Add(Iptables, iptables, iptablesVersion.Output.Trim(), "backend iptables, and enforce = \"queue\" (NFQUEUE is an iptables target)");
        Add(Hashlimit, iptables.Ok ? Both(In, "*filter\n-A SHAPER-PROBE -m hashlimit --hashlimit-above 10/sec --hashlimit-burst 5 --hashlimit-mode srcip --hashlimit-name shaper-probe -j DROP\nCOMMIT\n") : iptables,
            "per-key limits in iptables", "kernel rules on iptables");
        Add(IptablesReject, iptables.Ok ? In("iptables-restore", ["--noflush"], "*filter\n-A SHAPER-PROBE -p tcp -j REJECT --reject-with tcp-reset\n-A SHAPER-PROBE -j REJECT\nCOMMIT\n") : iptables,
            "REJECT target", "action = \"reject\" on iptables");
        Add(Nfqueue, iptables.Ok ? In("iptables-restore", ["--noflush"], "*filter\n-A SHAPER-PROBE -j NFQUEUE --queue-num 0 --queue-bypass\nCOMMIT\n") : iptables,
            "NFQUEUE target with --queue-bypass", "enforce = \"queue\"");

        var ipset = new[] { Environment.GetEnvironmentVariable("PATH") ?? "", "/usr/sbin:/sbin" }
            .SelectMany(p => p.Split(':', StringSplitOptions.RemoveEmptyEntries)).Select(d => Path.Combine(d, "ipset")).FirstOrDefault(File.Exists);
        features.Add(new Feature(Ipset, ipset is not null, ipset ?? "ipset is not installed",
            "nothing: iptables blocks are a chain of per-address DROP rules, which slows down beyond some thousands of blocks"));

        var ifb = ns is null ? In("ip", []) : ProcessCommand.Run("ip", ["-n", ns, "link", "add", "shaper-ifb0", "type", "ifb"]);
        Add(Ifb, ifb, "ip link add type ifb", "ingress shaping through IFB with tc (no kernel rule needs it)");
        var htb = ns is null ? In("tc", []) : ProcessCommand.Run("tc", ["-n", ns, "qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "10"]);
        Add(Htb, htb, "tc qdisc htb", "egress shaping with tc HTB (no kernel rule needs it)");

        var nice = Threading.ThreadNice.Probe(Threading.ThreadNice.EnforcementPath);
        features.Add(new Feature(ThreadNice, nice is null, nice ?? $"nice {Threading.ThreadNice.EnforcementPath} for capture, engine and block threads",
            $"their lead over other work when the CPUs are busy, so blocks come later under load (LimitNICE={Threading.ThreadNice.EnforcementPath} or CAP_SYS_NICE allows it)"));
        return features;
    }

    private static NftResult Both(Func<string, string[], string?, NftResult> run, string script)
    {
        var v4 = run("iptables-restore", ["--noflush"], script);
        return v4.Ok ? run("ip6tables-restore", ["--noflush"], script) : v4;
    }

    private static string Why(NftResult result) =>
        string.Join(' ', result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !l.StartsWith("Try `", StringComparison.Ordinal) && !l.StartsWith('^'))) is { Length: > 0 } why ? why : "failed";
}
