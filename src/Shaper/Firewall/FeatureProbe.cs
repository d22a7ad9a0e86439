using System.Globalization;
using Shaper.Rules;

namespace Shaper.Firewall;

/// <summary>
/// Finds out what this host's kernel and tools can do, for <c>shaperd --check</c> and the daemon's start:
/// nft and its meters and reject, iptables with hashlimit, REJECT and NFQUEUE, ipset, IFB, HTB and thread priority.
/// <para>Everything is probed in the daemon's own network namespace with nothing but CAP_NET_ADMIN, so that it works
/// under the shipped unit (exactly CAP_NET_ADMIN and CAP_NET_RAW, no new privileges, <c>RestrictNamespaces=yes</c>),
/// where a throwaway namespace cannot be made: creating one takes CAP_SYS_ADMIN. Relaxing the unit for the probe
/// would give the daemon the right to make namespaces for its whole life, for a check that lasts a second.</para>
/// <list type="bullet">
/// <item>nft: each probe is a transaction sent with <c>nft --check</c>: the kernel builds and validates every object
/// (so a missing module or an unsupported expression fails as it would for real) and then aborts the transaction,
/// so nothing is ever committed.</item>
/// <item>iptables has no such mode (<c>iptables-restore --test</c> never asks the kernel: a hashlimit the kernel
/// refuses passes it), so the probe commits a user chain <c>SHAPER-PROBE</c> that no built-in chain jumps to (no
/// packet ever reaches it), and deletes it; with iptables-nft, an empty <c>filter</c> table the probe had to create
/// is deleted too.</item>
/// <item>IFB and HTB: a device <c>shaper-probe0</c> that is down, carries no address and is deleted at once.</item>
/// </list>
/// </summary>
public static class FeatureProbe
{
    /// <summary>nft runs and creates a table.</summary>
    public const string Nft = "nft";

    /// <summary>nft dynamic sets with a per-element limit (meters).</summary>
    public const string NftMeters = "nft-meters";

    /// <summary>nft's reject statement.</summary>
    public const string NftReject = "nft-reject";

    /// <summary>nft's queue statement (<c>CONFIG_NFT_QUEUE</c>): queue rules use it instead of iptables' NFQUEUE target.</summary>
    public const string NftQueue = "nft-queue";

    /// <summary>iptables-restore and ip6tables-restore create chains.</summary>
    public const string Iptables = "iptables";

    /// <summary>The hashlimit match, both families.</summary>
    public const string Hashlimit = "hashlimit";

    /// <summary>The REJECT target.</summary>
    public const string IptablesReject = "iptables-reject";

    /// <summary>The NFQUEUE target (nft's queue statement is not always built; the target through xt compat is).</summary>
    public const string Nfqueue = "nfqueue";

    /// <summary>The HMARK target, which shares a queue rule's keys among its queues (<c>[daemon] queues</c> &gt; 1).</summary>
    public const string Hmark = "hmark";

    /// <summary>The ipset tool.</summary>
    public const string Ipset = "ipset";

    /// <summary>IFB devices (ingress shaping with tc).</summary>
    public const string Ifb = "ifb";

    /// <summary>The HTB qdisc.</summary>
    public const string Htb = "htb";

    /// <summary>The capture, engine and block threads may run at <see cref="Threading.ThreadNice.EnforcementPath"/>.</summary>
    public const string ThreadNice = "thread-nice";

    /// <summary>
    /// The capture threads may run SCHED_FIFO <see cref="Threading.ThreadNice.CapturePath"/> while light, and the block
    /// and hold install, hold release and queue threads SCHED_FIFO <see cref="Threading.ThreadNice.ReleasePath"/>.
    /// </summary>
    public const string ThreadRealtime = "thread-realtime";

    private const string Probe = "shaper_probe";
    private const string ProbeChain = "SHAPER-PROBE";
    private const string ProbeDevice = "shaper-probe0";

    /// <summary>Probes every feature in this network namespace, leaving nothing behind. Takes 0.15 to 0.2 s here at a daemon's start, with the runtime busy beside it.</summary>
    public static IReadOnlyList<Feature> Run() => Probes();

    /// <summary>True when nft can hold the shaper's kernel rules.</summary>
    public static bool NftUsable(IReadOnlyList<Feature> features) => Works(features, Nft) && Works(features, NftMeters);

    /// <summary>True when queue rules go through nft's queue statement: the backend is nftables and the kernel has the statement.</summary>
    public static bool NftQueueUsable(IReadOnlyList<Feature> features, BackendKind backend) => backend == BackendKind.Nftables && Works(features, NftQueue);

    /// <summary>
    /// Why <paramref name="plan"/>'s queue rules cannot have several queues here, null when they can: with iptables
    /// the HMARK target shares a rule's keys among its queues, and a kernel without it is refused with this reason
    /// rather than left to iptables-restore's own message (nft's queue statement hashes by itself).
    /// </summary>
    public static string? QueuesRefusal(IReadOnlyList<Feature> features, Plan.EnforcementPlan plan)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(plan);
        var sharded = plan.QueueRules.FirstOrDefault(q => q.Queues > 1);
        return sharded is null || NftQueueUsable(features, plan.Backend) || !features.Any(f => f.Name == Hmark && !f.Works)
            ? null
            : $"[daemon] queues = {sharded.Queues} needs the HMARK target to keep each key on one queue, and this kernel lacks it (shaperd --check: hmark missing); set queues = 1";
    }

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

    private static List<Feature> Probes()
    {
        // Four groups that share nothing run side by side, each in its own order (a probe's verdict never depends on
        // another group's): the nft checks, which commit nothing; the iptables chain, the only group that commits
        // netfilter changes, so its commits stay one after another; the throwaway device; and the thread priority.
        // Each is a chain of short processes (5 to 40 ms each, two or three in a row when every feature works), so the
        // probe takes as long as its longest group: at a daemon's start it is on the way to the kernel's ruleset.
        var iptables = Start(IptablesProbes);
        var nft = Start(NftProbes);
        var devices = Start(DeviceProbes);
        var nice = Threading.ThreadNice.Probe(Threading.ThreadNice.EnforcementPath);
        var realtime = Threading.ThreadNice.ProbeRealtime(Threading.ThreadNice.ReleasePath);
        var ipset = new[] { Environment.GetEnvironmentVariable("PATH") ?? "", "/usr/sbin:/sbin" }
            .SelectMany(p => p.Split(':', StringSplitOptions.RemoveEmptyEntries)).Select(d => Path.Combine(d, "ipset")).FirstOrDefault(File.Exists);

        // Every group runs to its end (and its clean-up) before the first failure, if any, is thrown.
        Task.WhenAll(nft, iptables, devices).GetAwaiter().GetResult();
        return
        [
            .. nft.Result,
            .. iptables.Result,
            new Feature(Ipset, ipset is not null, ipset ?? "ipset is not installed",
                "nothing: iptables blocks are a chain of per-address DROP rules, which slows down beyond some thousands of blocks"),
            .. devices.Result,
            new Feature(ThreadNice, nice is null, nice ?? $"nice {Threading.ThreadNice.EnforcementPath} for capture, engine and block threads",
                $"their lead over other work when the CPUs are busy, so blocks come later under load (LimitNICE={Threading.ThreadNice.EnforcementPath} or CAP_SYS_NICE allows it)"),
            new Feature(ThreadRealtime, realtime is null,
                realtime ?? $"SCHED_FIFO {Threading.ThreadNice.CapturePath} for capture threads while light, {Threading.ThreadNice.ReleasePath} for block and hold install, hold release and queue threads, all while light",
                $"real-time scheduling: those threads run at nice {Threading.ThreadNice.EnforcementPath} instead and wait up to a scheduler tick for a CPU on a busy host, so blocks, holds and releases come later (LimitRTPRIO={Threading.ThreadNice.ReleasePath} or CAP_SYS_NICE allows it)"),
        ];
    }

    /// <summary>
    /// Probes on a thread of their own: they wait on their processes, which would hold thread-pool threads that the
    /// processes' output readers need.
    /// </summary>
    private static Task<T> Start<T>(Func<T> probes) =>
        Task.Factory.StartNew(probes, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static NftResult Command(string program, string[] args, string? stdin = null) =>
        ProcessCommand.Run(program, args, stdin, TimeSpan.FromSeconds(10));

    /// <summary>nft: each probe checked by the kernel, never committed.</summary>
    private static List<Feature> NftProbes()
    {
        var features = new List<Feature>();
        void Add(string name, NftResult result, string detail, string disables) => features.Add(Verdict(name, result, detail, disables));

        // The version is asked beside the checks, not before them: without nft every check fails as the version does.
        var version = Start(() => Command("nft", ["--version"]));
        var table = $"add table inet {Probe}\nadd chain inet {Probe} input {{ type filter hook input priority 0; policy accept; }}\n";
        NftResult Check(string script) => Command("nft", ["--check", "-f", "-"], table + script);
        var meters = $"add set inet {Probe} m {{ type ipv4_addr; size 16; flags dynamic,timeout; timeout 60s; }}\n"
            + $"add rule inet {Probe} input update @m {{ ip saddr limit rate over 10/second burst 5 packets }} drop\n";
        var reject = $"add rule inet {Probe} input meta l4proto tcp reject with tcp reset\n"
            + $"add rule inet {Probe} input reject with icmpx type port-unreachable\n";

        // The queue statement is often not built: checked on its own, beside one transaction holding the table, the
        // meters and reject. When the kernel takes that one, it takes each part of it alone, so all three work; when it
        // refuses it, each is checked alone as before, so a missing feature is named with its own reason.
        NftResult nft, nftMeters, nftReject, nftQueue;
        var queue = Start(() => Check($"add rule inet {Probe} input queue num 0 bypass\n"));
        var all = Check(meters + reject);
        var nftVersion = version.GetAwaiter().GetResult();
        if (nftVersion.Ok)
        {
            nft = all.Ok ? all : Check("");
            nftMeters = all.Ok ? all : nft.Ok ? Check(meters) : nft;
            nftReject = all.Ok ? all : nft.Ok ? Check(reject) : nft;
            var queued = queue.GetAwaiter().GetResult();
            nftQueue = nft.Ok ? queued : nft;
        }
        else
        {
            queue.GetAwaiter().GetResult();
            nft = nftMeters = nftReject = nftQueue = nftVersion;
        }

        Add(Nft, nft, nftVersion.Output.Trim(), "backend nftables (auto falls back to iptables)");
        Add(NftMeters, nftMeters, "dynamic sets with per-key limits", "kernel rules on nftables");
        Add(NftReject, nftReject, "reject with tcp reset / icmpx", "action = \"reject\" on nftables");
        Add(NftQueue, nftQueue, "queue statement with bypass", "nothing: queue rules use iptables -j NFQUEUE instead");
        return features;
    }

    /// <summary>iptables: a chain nothing jumps to, committed and removed.</summary>
    private static List<Feature> IptablesProbes()
    {
        var features = new List<Feature>();
        void Add(string name, NftResult result, string detail, string disables) => features.Add(Verdict(name, result, detail, disables));

        // The version is asked beside the first commit: it decides only the clean-up (iptables-nft's filter tables)
        // and the detail. Which of those tables exist is read before anything is committed, in process where
        // libnftables is installed (a millisecond against a process each).
        var version = Start(() => Command("iptables", ["--version"]));
        using var nft = LibNftables.TryOpen();
        var found = FilterTables(["ip", "ip6"], nft);
        var chain = $"*filter\n:{ProbeChain} - [0:0]\nCOMMIT\n";
        var hashlimit = $"-A {ProbeChain} -m hashlimit --hashlimit-above 10/sec --hashlimit-burst 5 --hashlimit-mode srcip --hashlimit-name shaper-probe -j DROP\n";
        var reject = $"-A {ProbeChain} -p tcp -j REJECT --reject-with tcp-reset\n-A {ProbeChain} -j REJECT\n";
        var nfqueue = $"-A {ProbeChain} -j NFQUEUE --queue-num 0 --queue-bypass\n";
        var hmark = $"-A {ProbeChain} -j HMARK --hmark-src-prefix 32 --hmark-rnd 0x5348 --hmark-mod 2 --hmark-offset 0\n";

        // iptables-restore commits each table section at its COMMIT, in order, and stops at the first the kernel
        // refuses: a second section removing the chain again takes it out in the same run of the tool, so a run
        // that succeeds leaves nothing behind, and a refused first commit committed nothing to remove.
        var removal = $"*filter\n-F {ProbeChain}\n-X {ProbeChain}\nCOMMIT\n";
        var all = Restore("iptables-restore", $"*filter\n:{ProbeChain} - [0:0]\n{hashlimit}{reject}{nfqueue}{hmark}COMMIT\n{removal}");
        var iptablesVersion = version.GetAwaiter().GetResult();
        var iptablesNft = iptablesVersion.Output.Contains("nf_tables", StringComparison.Ordinal);
        IReadOnlyDictionary<string, string> hadFilter = iptablesNft ? found : new Dictionary<string, string>();
        var removed = true;
        try
        {
            // One commit per family with the chain and every rule: when the kernel takes both, it takes each rule alone,
            // so all five work (2 processes instead of 10). When it refuses one, what the other left is removed and each
            // is committed alone as before, so a missing feature is named with its own reason.
            all = !iptablesVersion.Ok ? iptablesVersion : all.Ok ? Restore("ip6tables-restore", $"*filter\n:{ProbeChain} - [0:0]\n{hashlimit}{hmark}COMMIT\n{removal}") : all;
            if (all.Ok)
            {
                Add(Iptables, all, iptablesVersion.Output.Trim(), IptablesDisables);
                Add(Hashlimit, all, HashlimitDetail, HashlimitDisables);
                Add(IptablesReject, all, RejectDetail, RejectDisables);
                Add(Nfqueue, all, NfqueueDetail, NfqueueDisables);
                Add(Hmark, all, HmarkDetail, HmarkDisables);
                return features;
            }

            removed = false;
            if (iptablesVersion.Ok)
            {
                RemoveChain();
            }

            var iptables = iptablesVersion.Ok ? Both(chain) : iptablesVersion;
            Add(Iptables, iptables, iptablesVersion.Output.Trim(), IptablesDisables);
            Add(Hashlimit, iptables.Ok ? Both($"*filter\n{hashlimit}COMMIT\n") : iptables, HashlimitDetail, HashlimitDisables);
            Add(IptablesReject, iptables.Ok ? Restore("iptables-restore", $"*filter\n{reject}COMMIT\n") : iptables, RejectDetail, RejectDisables);
            Add(Nfqueue, iptables.Ok ? Restore("iptables-restore", $"*filter\n{nfqueue}COMMIT\n") : iptables, NfqueueDetail, NfqueueDisables);
            Add(Hmark, iptables.Ok ? Both($"*filter\n{hmark}COMMIT\n") : iptables, HmarkDetail, HmarkDisables);
            return features;
        }
        finally
        {
            if (iptablesVersion.Ok)
            {
                RemoveProbeChain(iptablesNft, hadFilter, removed, nft);
            }
        }
    }

    private const string IptablesDisables = "backend iptables, and enforce = \"queue\" (NFQUEUE is an iptables target)";
    private const string HashlimitDetail = "per-key limits in iptables";
    private const string HashlimitDisables = "kernel rules on iptables";
    private const string RejectDetail = "REJECT target";
    private const string RejectDisables = "action = \"reject\" on iptables";
    private const string NfqueueDetail = "NFQUEUE target with --queue-bypass";
    private const string NfqueueDisables = "enforce = \"queue\"";
    private const string HmarkDetail = "HMARK target (a hash of the source alone)";
    private const string HmarkDisables = "[daemon] queues > 1 (a queue rule's keys shared among several queues)";

    /// <summary>IFB and HTB: a device that is down, has no address and lives a few milliseconds.</summary>
    private static List<Feature> DeviceProbes()
    {
        var features = new List<Feature>();
        void Add(string name, NftResult result, string detail, string disables) => features.Add(Verdict(name, result, detail, disables));

        var ifb = Command("ip", ["link", "add", ProbeDevice, "type", "ifb"]);
        if (!ifb.Ok && ifb.Error.Contains("File exists", StringComparison.Ordinal))
        {
            Command("ip", ["link", "del", ProbeDevice]); // one a crashed probe left
            ifb = Command("ip", ["link", "add", ProbeDevice, "type", "ifb"]);
        }

        var device = ifb.Ok || Command("ip", ["link", "add", ProbeDevice, "type", "dummy"]).Ok;
        try
        {
            Add(Ifb, ifb, "ip link add type ifb", "ingress shaping through IFB with tc (no kernel rule needs it)");
            var htb = device ? Command("tc", ["qdisc", "add", "dev", ProbeDevice, "root", "handle", "1:", "htb", "default", "10"]) : ifb;
            Add(Htb, htb, "tc qdisc htb", "egress shaping with tc HTB (no kernel rule needs it)");
        }
        finally
        {
            if (device)
            {
                Command("ip", ["link", "del", ProbeDevice]);
            }
        }

        return features;
    }

    private static NftResult Restore(string program, string script) =>
        ProcessCommand.Run(program, ["--noflush"], script, TimeSpan.FromSeconds(10));

    private static NftResult Both(string script)
    {
        var v4 = Restore("iptables-restore", script);
        return v4.Ok ? Restore("ip6tables-restore", script) : v4;
    }

    /// <summary>
    /// Which of <paramref name="families"/>' <c>filter</c> tables (iptables-nft's) exist now, one table asked for at a
    /// time: nft 1.0 reads every table whole, set elements included, to list even the tables' names (with a million
    /// blocks in the shaper's sets, <c>nft list tables</c> took 12 s to 2 min here). Through <paramref name="nft"/>
    /// when libnftables is installed, else with the nft command, the families side by side. Each family maps to its
    /// table's listing when it exists.
    /// </summary>
    private static Dictionary<string, string> FilterTables(string[] families, LibNftables? nft)
    {
        var listed = nft is null
            ? [.. families.Select(family => Start(() => ProcessCommand.Run("nft", ["list", "table", family, "filter"], deadline: TimeSpan.FromSeconds(10))))]
            : families.Select(family => Task.FromResult(nft.Run($"list table {family} filter"))).ToArray();
        Task.WaitAll(listed);
        return families.Zip(listed).Where(pair => pair.Second.Result.Ok).ToDictionary(pair => pair.First, pair => pair.Second.Result.Output, StringComparer.Ordinal);
    }

    /// <summary>
    /// Removes the probe chain, unless <paramref name="removed"/> (the run that committed it removed it); with
    /// iptables-nft, a <c>filter</c> table that did not exist before the probe is removed too, provided it is still
    /// empty (nothing else put a chain in it meanwhile).
    /// </summary>
    private static void RemoveProbeChain(bool iptablesNft, IReadOnlyDictionary<string, string> hadFilter, bool removed, LibNftables? nft)
    {
        if (!removed)
        {
            RemoveChain();
        }

        if (!iptablesNft)
        {
            return;
        }

        foreach (var (family, listing) in FilterTables([.. new[] { "ip", "ip6" }.Where(f => !hadFilter.ContainsKey(f))], nft))
        {
            if (!listing.Contains("chain ", StringComparison.Ordinal))
            {
                _ = nft?.Run($"delete table {family} filter") ?? ProcessCommand.Run("nft", ["delete", "table", family, "filter"], deadline: TimeSpan.FromSeconds(10));
            }
        }
    }

    /// <summary>Removes the probe chain from both families, where it is (where it is not, the restore fails and changes nothing).</summary>
    private static void RemoveChain()
    {
        var remove = $"*filter\n-F {ProbeChain}\n-X {ProbeChain}\nCOMMIT\n";
        Restore("iptables-restore", remove);
        Restore("ip6tables-restore", remove);
    }

    /// <summary>A feature that works when <paramref name="result"/> is ok, said with <paramref name="detail"/>, else missing with why.</summary>
    private static Feature Verdict(string name, NftResult result, string detail, string disables) =>
        new(name, result.Ok, result.Ok ? detail : Why(result), disables);

    private static string Why(NftResult result) =>
        string.Join(' ', result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !l.StartsWith("Try `", StringComparison.Ordinal) && !l.StartsWith('^'))) is { Length: > 0 } why ? why : "failed";
}
