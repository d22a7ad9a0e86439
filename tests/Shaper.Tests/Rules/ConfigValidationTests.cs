using Shaper.Rules;

namespace Shaper.Tests.Rules;

/// <summary>Each class of mistake, with the exact line a user sees: file:line:column: what is wrong; what would be right.</summary>
public sealed class ConfigValidationTests
{
    private const string R = ConfigText.Rule;
    private const string NameRule = "use 1 to 24 characters of a-z, 0-9 and '-', starting with a letter or digit";
    private const string PortHint = "write a port from 1 to 65535 or a range \"first-last\", e.g. 22 or \"8000-8080\"";
    private const string Eth0 = "[daemon]\ninterface = \"eth0\"\n";

    public static TheoryData<string, string> OneError => new()
    {
        // Unknown key: the nearest valid name.
        { R + "burts = 5\n", "shaper.toml:5:1: unknown key 'burts' in [[rule]] 'r1'; did you mean 'burst'?" },

        // Unknown key with nothing near: the valid names.
        { R + "colour = 1\n", "shaper.toml:5:1: unknown key 'colour' in [[rule]] 'r1'; valid keys are name, match, per, algorithm, rate, burst, limit, window, queue, enforce, action, block_for, mode, scope" },

        // A match key written on the rule itself.
        { R + "dport = [22]\n", "shaper.toml:5:1: unknown key 'dport' in [[rule]] 'r1'; it belongs in match, e.g. match = { dport = … }" },

        // [fleet]: a fleet rule needs the section; the section needs its store; sync and hosts in range; the store string parses.
        { Eth0 + R + "enforce = \"observe\"\nscope = \"fleet\"\n", "shaper.toml:8:9: scope = \"fleet\" of [[rule]] 'r1' has no [fleet] section to share its limit through; add [fleet] with redis = \"198.18.0.9:6379\" and hosts = 3, or use scope = \"host\"" },
        { "[fleet]\nhosts = 3\n", "shaper.toml:1:1: [fleet] has no redis; add redis = \"198.18.0.9:6379\" (the store the fleet shares), or remove [fleet]" },
        { "[fleet]\nredis = \"198.18.0.9:6379\"\nsync = \"5ms\"\n", "shaper.toml:3:8: sync of [fleet] must be between 10ms and 60s; write sync = \"100ms\" (each host exchanges its hits with Redis this often)" },
        { "[fleet]\nredis = \"198.18.0.9:6379\"\nslow_call = \"2m\"\n", "shaper.toml:3:13: slow_call of [fleet] must be between 1ms and 60s; write slow_call = \"45ms\", or leave it out for nine tenths of a store call's timeout (half of sync)" },
        { "[fleet]\nredis = \"198.18.0.9:6379\"\nhosts = 0\n", "shaper.toml:3:9: hosts of [fleet] is 0, out of range; write a whole number from 1 to 10000" },
        { "[fleet]\nredis = \"\"\n", "shaper.toml:2:9: redis of [fleet]: names no endpoint; write host:port, or several separated by commas for a Redis Cluster, e.g. \"198.18.0.9:6379\"" },
        { "[fleet]\nredis = \"198.18.0.9:6379\"\nhost = \"web 1\"\n", "shaper.toml:3:8: host of [fleet]: 'web 1' is not a host name; use letters, digits, '.', '-' and '_', at most 64 characters, or \"\" for the machine's host name" },
        { "[fleet]\nredis = \"198.18.0.9:6379\"\nsynk = \"1s\"\n", "shaper.toml:3:1: unknown key 'synk' in [fleet]; did you mean 'sync'?" },

        // A fleet rule is an observe rule: the kernel's meters and the queue cannot share a limit, nor can a sliding log.
        { "[fleet]\nredis = \"198.18.0.9:6379\"\n" + R + "scope = \"fleet\"\n", "shaper.toml:7:9: scope = \"fleet\" of [[rule]] 'r1' cannot be enforced by the kernel (enforce = \"kernel\"): each host's kernel meter counts that host's packets alone; use enforce = \"observe\": the daemon shares the limit through [fleet] and stops keys over it in the kernel" },
        { Eth0 + "[fleet]\nredis = \"198.18.0.9:6379\"\n[[rule]]\nname = \"r1\"\nalgorithm = \"sliding_log\"\nlimit = 5\nwindow = \"1s\"\nenforce = \"observe\"\nscope = \"fleet\"\n", "shaper.toml:11:9: scope = \"fleet\" of [[rule]] 'r1' cannot share a sliding_log: a log decides by the time of each hit it admitted, and the hosts send the store one count per key per sync, whose hits it could only date to the sync (each window edge would move by up to a sync interval; sending every hit's time instead would put up to limit timestamps per key per window through Redis); use algorithm = \"sliding_window\" (its two counters per key are what the store keeps exactly from counts), or scope = \"host\"" },

        // Unknown key inside match.
        { R + "match = { proto = \"tcp\", dprot = [22] }\n", "shaper.toml:5:26: unknown key 'dprot' in match of [[rule]] 'r1'; did you mean 'dport'?" },

        // Unknown tables, with the nearest written the way it must be written.
        { "[deamon]\n", "shaper.toml:1:1: unknown table '[deamon]'; did you mean '[daemon]'?" },
        { "[[rules]]\nname = \"x\"\n", "shaper.toml:1:1: unknown table '[[rules]]'; did you mean '[[rule]]'?" },

        // Keys in the wrong table.
        { "interface = \"eth0\"\n", "shaper.toml:1:1: unknown key 'interface' at the top level; 'interface' belongs in [daemon]" },
        { "[daemon]\nrate = \"1/s\"\n", "shaper.toml:2:1: unknown key 'rate' in [daemon]; 'rate' belongs in [global] or [[rule]]" },
        { "[[allow]]\ncidr = [\"10.0.0.0/8\"]\nname = \"x\"\n", "shaper.toml:3:1: unknown key 'name' in [[allow]]; 'name' belongs in [[rule]]" },

        // A table where an array of tables belongs, and the reverse.
        { "[rule]\nname = \"x\"\n", "shaper.toml:1:1: [rule] must be an array of tables; write [[rule]] (two pairs of brackets), once per rule" },
        { "[[daemon]]\n", "shaper.toml:1:1: [[daemon]] must be a single table; write [daemon] (one pair of brackets)" },

        // Wrong value types.
        { "[[rule]]\nname = \"r1\"\nrate = \"10/s\"\nburst = \"5\"\n", "shaper.toml:4:9: burst of [[rule]] 'r1' must be an integer, not a string; write burst = 5 (no quotes)" },
        { "[[rule]]\nname = \"r1\"\nrate = \"10/s\"\nburst = 5.5\n", "shaper.toml:4:9: burst of [[rule]] 'r1' must be an integer, not a float; write burst = 5" },
        { "[[rule]]\nname = \"r1\"\nrate = 10\nburst = 5\n", "shaper.toml:3:8: rate of [[rule]] 'r1' must be a string with a period, not an integer; write rate = \"10/s\" (or /minute, /hour, /day)" },
        { "[[rule]]\nname = 7\nrate = \"10/s\"\nburst = 5\n", "shaper.toml:2:8: name of [[rule]] #1 must be a string, not an integer; write name = \"ssh-new\"" },
        { R + "match = \"tcp\"\n", "shaper.toml:5:9: match of [[rule]] 'r1' must be a table, not a string; write match = { proto = \"tcp\", dport = [22] }" },
        { "[daemon]\nkeep_on_stop = \"yes\"\n", "shaper.toml:2:16: keep_on_stop of [daemon] must be true or false, not a string; write keep_on_stop = true" },
        { R + "action = \"block\"\nblock_for = 600\n", "shaper.toml:6:13: block_for of [[rule]] 'r1' must be a string with a unit, not an integer; write block_for = \"600s\" (units: ms, s, m, h, d)" },

        // Out of range integers.
        { "[[rule]]\nname = \"r1\"\nrate = \"10/s\"\nburst = 0\n", "shaper.toml:4:9: burst of [[rule]] 'r1' is 0, out of range; write a whole number from 1 to 4294967295" },

        // Enum values: the nearest, or the list.
        { R + "enforce = \"kernal\"\n", "shaper.toml:5:11: enforce of [[rule]] 'r1' cannot be \"kernal\"; did you mean 'kernel'?" },
        { R + "action = \"ban\"\n", "shaper.toml:5:10: action of [[rule]] 'r1' cannot be \"ban\"; write one of drop, reject, block, log" },
        { "[daemon]\nbackend = \"nft\"\n", "shaper.toml:2:11: backend of [daemon] cannot be \"nft\"; write one of auto, nftables, iptables, none" },
        { R + "per = \"source\"\n", "shaper.toml:5:7: per of [[rule]] 'r1': 'source' is not a key; write one of src, dst, src+dport, rule, src/24, src/64" },
        { R + "per = \"src/0\"\n", "shaper.toml:5:7: per of [[rule]] 'r1': 'src/0' puts every source in one bucket; write per = \"rule\" for one bucket, or a prefix from 1 to 128" },
        { R + "per = \"src/129\"\n", "shaper.toml:5:7: per of [[rule]] 'r1': 'src/129' has a bad prefix length; write src/N with N from 1 to 128, e.g. \"src/24\" (IPv4) or \"src/64\" (IPv6)" },

        // Bad rates and durations, at the value.
        { "[[rule]]\nname = \"r1\"\nrate = \"10/minuet\"\nburst = 5\n", "shaper.toml:3:8: rate of [[rule]] 'r1': unknown period 'minuet' in '10/minuet'; did you mean 'minute'?" },
        { R + "action = \"block\"\nblock_for = \"10x\"\n", "shaper.toml:6:13: block_for of [[rule]] 'r1': unknown unit 'x' in '10x'; units are ms, s, m (minutes), h and d" },
        { "[global]\nrate = \"fast\"\nburst = 10\n", "shaper.toml:2:8: rate of [global]: 'fast' has no period; write it as N/s, N/minute, N/hour or N/day, e.g. \"10/s\"" },

        // Bad CIDRs: host bits, host names, non-strings.
        { R + "match = { src = [\"10.0.0.1/8\"] }\n", "shaper.toml:5:18: match.src of [[rule]] 'r1': '10.0.0.1/8' has host bits set; write \"10.0.0.0/8\" for the network or \"10.0.0.1/32\" for the host" },
        { "[[allow]]\ncidr = [\"localhost\"]\n", "shaper.toml:2:9: cidr of [[allow]]: 'localhost' is not an IP address or CIDR; host names are never resolved; write an IPv4 or IPv6 address or CIDR, e.g. \"192.0.2.0/24\", \"198.51.100.7\" or \"2001:db8::/32\"" },
        { "[[allow]]\ncidr = [\"10.0.0.0/8\", 8]\n", "shaper.toml:2:23: cidr of [[allow]] must list CIDRs as strings, not an integer; write each as a quoted string, e.g. \"192.0.2.0/24\"" },
        { "[[allow]]\n", "shaper.toml:1:1: [[allow]] has no cidr; add cidr = [\"127.0.0.0/8\", \"::1/128\"] (networks that are never limited)" },

        // Ports out of range and bad ranges.
        { R + "match = { proto = \"tcp\", dport = [0] }\n", $"shaper.toml:5:35: match.dport of [[rule]] 'r1': port 0 is out of range; {PortHint}" },
        { R + "match = { proto = \"tcp\", dport = [70000] }\n", $"shaper.toml:5:35: match.dport of [[rule]] 'r1': port 70000 is out of range; {PortHint}" },
        { R + "match = { proto = \"tcp\", dport = [\"30-20\"] }\n", "shaper.toml:5:35: match.dport of [[rule]] 'r1': port range '30-20' ends before it starts; write \"20-30\"" },
        { R + "match = { proto = \"tcp\", dport = [\"1-70000\"] }\n", $"shaper.toml:5:35: match.dport of [[rule]] 'r1': port range '1-70000' goes outside 1-65535; {PortHint}" },
        { R + "match = { proto = \"tcp\", dport = [\"http\"] }\n", $"shaper.toml:5:35: match.dport of [[rule]] 'r1': 'http' is not a port or port range; {PortHint}" },

        // Ports and SYN need a protocol that has them.
        { R + "match = { dport = [22] }\n", "shaper.toml:5:11: match.dport of [[rule]] 'r1' needs a protocol with ports; add proto = \"tcp\" or proto = \"udp\" to match" },
        { R + "match = { proto = \"icmp\", dport = [22] }\n", "shaper.toml:5:27: match.dport of [[rule]] 'r1' cannot match: proto = \"icmp\" has no ports; remove dport, or use proto = \"tcp\" or \"udp\"" },
        { R + "match = { proto = \"udp\", syn = true }\n", "shaper.toml:5:26: match.syn of [[rule]] 'r1' needs proto = \"tcp\", not \"udp\"; add proto = \"tcp\" to match, or remove syn" },

        // Interface names.
        { "[daemon]\ninterface = \"eth 0\"\n", "shaper.toml:2:13: interface of [daemon]: 'eth 0' is not an interface name; write a name such as \"eth0\" (1 to 15 characters, no '/', ':' or spaces), or \"\" for no capture" },
        { R + "match = { iface = \"a-very-long-interface\" }\n", "shaper.toml:5:19: match.iface of [[rule]] 'r1': 'a-very-long-interface' is not an interface name; write a name such as \"eth0\" or a prefix such as \"eth*\" (1 to 15 characters, no '/', ':' or spaces)" },

        // Daemon endpoints and paths: never a host name, always absolute.
        { "[daemon]\nmetrics = \"localhost:9477\"\n", "shaper.toml:2:11: metrics of [daemon]: 'localhost:9477' is not an address and port; write an IP address and port such as \"127.0.0.1:9477\" or \"[::1]:9477\" (host names are not resolved), or \"\" for off" },
        { "[daemon]\nsocket = \"shaperd.sock\"\n", "shaper.toml:2:10: socket of [daemon] must be an absolute path, not 'shaperd.sock'; write socket = \"/run/shaper/shaperd.sock\"" },

        // Rule names that cannot name kernel objects, with a valid one offered.
        { "[[rule]]\nname = \"SSH_New\"\nrate = \"10/s\"\nburst = 5\n", $"shaper.toml:2:8: rule name 'SSH_New' cannot name kernel objects; {NameRule}, e.g. 'ssh-new'" },
        { "[[rule]]\nname = \"abcdefghijklmnopqrstuvwxy\"\nrate = \"10/s\"\nburst = 5\n", $"shaper.toml:2:8: rule name 'abcdefghijklmnopqrstuvwxy' cannot name kernel objects; {NameRule}, e.g. 'abcdefghijklmnopqrstuvwx'" },
        { "[[rule]]\nname = \"-x\"\nrate = \"10/s\"\nburst = 5\n", $"shaper.toml:2:8: rule name '-x' cannot name kernel objects; {NameRule}, e.g. 'x'" },
        { "[[rule]]\nname = \"\"\nrate = \"10/s\"\nburst = 5\n", $"shaper.toml:2:8: rule name '' cannot name kernel objects; {NameRule}" },
        { "[[rule]]\nrate = \"10/s\"\nburst = 5\n", $"shaper.toml:1:1: [[rule]] #1 has no name; add name = \"...\"; {NameRule}" },

        // Duplicate names, at the second one.
        { R + R, "shaper.toml:6:8: duplicate rule name 'r1' (first at line 2); give each rule a unique name: it names the rule's kernel sets and counters" },

        // Missing fields per algorithm, at the rule's header.
        { "[[rule]]\nname = \"r1\"\nburst = 5\n", "shaper.toml:1:1: [[rule]] 'r1' has no rate; token_bucket needs rate and burst; add rate = \"10/s\"" },
        { Eth0 + "[[rule]]\nname = \"r1\"\nalgorithm = \"fixed_window\"\nenforce = \"observe\"\nwindow = \"1m\"\n", "shaper.toml:3:1: [[rule]] 'r1' has no limit; fixed_window needs limit and window; add limit = 100" },
        { Eth0 + "[[rule]]\nname = \"r1\"\nalgorithm = \"leaky_bucket\"\nenforce = \"observe\"\nrate = \"5/s\"\n", "shaper.toml:3:1: [[rule]] 'r1' has no burst; leaky_bucket as a meter needs rate and burst; add burst = 5" },
        { "[[rule]]\nname = \"r1\"\nalgorithm = \"leaky_bucket\"\nenforce = \"queue\"\nrate = \"5/s\"\n", "shaper.toml:1:1: [[rule]] 'r1' has no queue; leaky_bucket as a queue (enforce = \"queue\") needs rate and queue; add queue = 50" },

        // Algorithms the kernel cannot run, at enforce (or at the algorithm when kernel is the default).
        { "[[rule]]\nname = \"r1\"\nalgorithm = \"sliding_log\"\nlimit = 10\nwindow = \"1m\"\nenforce = \"kernel\"\n", "shaper.toml:6:11: algorithm = \"sliding_log\" of [[rule]] 'r1' cannot run in the kernel (enforce = \"kernel\"); use enforce = \"observe\": the daemon runs it over captured packets" },
        { "[[rule]]\nname = \"r1\"\nalgorithm = \"sliding_window\"\nlimit = 10\nwindow = \"1m\"\n", "shaper.toml:3:13: algorithm = \"sliding_window\" of [[rule]] 'r1' cannot run in the kernel (enforce = \"kernel\" is the default); use enforce = \"observe\": the daemon runs it over captured packets" },
        { "[[rule]]\nname = \"r1\"\nalgorithm = \"fixed_window\"\nlimit = 10\nwindow = \"1m\"\n", "shaper.toml:3:13: algorithm = \"fixed_window\" of [[rule]] 'r1' cannot run in the kernel (enforce = \"kernel\" is the default); use enforce = \"observe\": the daemon runs it over captured packets" },
        { "[[rule]]\nname = \"r1\"\nalgorithm = \"leaky_bucket\"\nrate = \"5/s\"\nburst = 3\n", "shaper.toml:3:13: algorithm = \"leaky_bucket\" of [[rule]] 'r1' cannot run in the kernel (enforce = \"kernel\" is the default); use enforce = \"observe\" (a meter, with rate and burst) or enforce = \"queue\" (with rate and queue)" },

        // A queue needs the leaky bucket.
        { R + "enforce = \"queue\"\n", "shaper.toml:5:11: enforce = \"queue\" of [[rule]] 'r1' needs algorithm = \"leaky_bucket\", not \"token_bucket\"; set algorithm = \"leaky_bucket\" with rate and queue, or use enforce = \"observe\"" },

        // A kernel rate nft cannot write.
        { "[[rule]]\nname = \"r1\"\nrate = \"0.0001/s\"\nburst = 5\n", "shaper.toml:3:8: rate '0.0001/s' of [[rule]] 'r1' is not a whole number per second, minute, hour or day, which nft and iptables need; write a rate such as \"10/s\" or \"3/minute\", or use enforce = \"observe\"" },

        // Block needs block_for, and a source to block.
        { R + "action = \"block\"\n", "shaper.toml:5:10: action = \"block\" of [[rule]] 'r1' has no block_for; add block_for = \"10m\" (how long an offender stays blocked)" },
        { R + "action = \"block\"\nblock_for = \"10m\"\nper = \"dst\"\n", "shaper.toml:7:7: action = \"block\" of [[rule]] 'r1' blocks sources, but per = \"dst\" counts per destination; use per = \"src\" (or src/N) with block, or another action" },
        // An observe drop or reject holds keys in a kernel set of addresses: a source-and-port key has no set.
        { R + "enforce = \"observe\"\naction = \"reject\"\nper = \"src+dport\"\n", "shaper.toml:7:7: action = \"reject\" of observe [[rule]] 'r1' holds each key in a kernel set of addresses, which per = \"src+dport\" cannot key; use per = \"src\" (or src/N), or action = \"log\"" },
        { R + "match = { proto = \"icmp\" }\nper = \"src+dport\"\n", "shaper.toml:6:7: per = \"src+dport\" of [[rule]] 'r1' needs ports, but match.proto has none; use per = \"src\", or match proto = \"tcp\" or \"udp\"" },

        // Rules no enforcer carries out: observe with no capture interface, kernel with no backend.
        { "[[rule]]\nname = \"r1\"\nalgorithm = \"sliding_log\"\nenforce = \"observe\"\nlimit = 1\nwindow = \"1s\"\n", "shaper.toml:4:11: [[rule]] 'r1' uses enforce = \"observe\" but [daemon] interface is \"\" (no capture), so it never sees a packet; set [daemon] interface = \"eth0\" (the interface to watch), or use enforce = \"kernel\"" },
        { "[daemon]\nbackend = \"none\"\n" + R, "shaper.toml:3:1: [[rule]] 'r1' is enforced by the kernel but [daemon] backend = \"none\" installs nothing; set backend = \"auto\", or use enforce = \"observe\"" },
        // Observe drop and reject hold keys in nftables sets: iptables has none, and backend none installs nothing.
        { "[daemon]\nbackend = \"iptables\"\ninterface = \"eth0\"\n[[rule]]\nname = \"r1\"\nalgorithm = \"sliding_log\"\nlimit = 1\nwindow = \"1s\"\nenforce = \"observe\"\n", "shaper.toml:4:1: action = \"drop\" of observe [[rule]] 'r1' holds keys in nftables drop and reject sets, which iptables has no equivalent of; set [daemon] backend = \"nftables\" (or \"auto\"), or use action = \"block\" or \"log\"" },
        { "[daemon]\nbackend = \"none\"\ninterface = \"eth0\"\n[[rule]]\nname = \"r1\"\nalgorithm = \"sliding_log\"\nlimit = 1\nwindow = \"1s\"\nenforce = \"observe\"\naction = \"reject\"\n", "shaper.toml:10:10: action = \"reject\" of observe [[rule]] 'r1' stops keys in the kernel, but [daemon] backend = \"none\" installs nothing; set [daemon] backend = \"auto\", or use action = \"log\" (or mode = \"soft\") to only count and log" },

        // [global] needs both halves.
        { "[global]\nrate = \"100/s\"\n", "shaper.toml:1:1: [global] has no burst; add burst = 40000 (the host-wide bucket size), or remove [global]" },
    };

    public static TheoryData<string, string> OneWarning => new()
    {
        // A field the algorithm does not use.
        { R + "limit = 10\n", "shaper.toml:5:1: warning: limit does not apply to token_bucket in [[rule]] 'r1'; remove it; token_bucket uses rate and burst" },
        { Eth0 + "[[rule]]\nname = \"r1\"\nalgorithm = \"leaky_bucket\"\nenforce = \"observe\"\nrate = \"5/s\"\nburst = 3\nqueue = 5\n", "shaper.toml:9:1: warning: queue does not apply to leaky_bucket as a meter in [[rule]] 'r1'; remove it; leaky_bucket as a meter uses rate and burst" },

        // block_for without block.
        { R + "block_for = \"10m\"\n", "shaper.toml:5:1: warning: block_for of [[rule]] 'r1' applies only to action = \"block\"; remove it, or set action = \"block\"" },

        // syn = false filters nothing.
        { R + "match = { proto = \"tcp\", syn = false }\n", "shaper.toml:5:32: warning: match.syn = false of [[rule]] 'r1' matches every packet; remove it; write syn = true to match only new TCP connections" },

        // An empty list matches everything.
        { R + "match = { proto = \"tcp\", dport = [] }\n", "shaper.toml:5:34: warning: match.dport of [[rule]] 'r1' is an empty list, which matches every port; remove dport, or list ports, e.g. dport = [22]" },
        { "[[allow]]\ncidr = []\n", "shaper.toml:2:8: warning: cidr of [[allow]] is an empty list, which allows nothing; list the networks that must never be limited, e.g. cidr = [\"127.0.0.0/8\", \"::1/128\"]" },

        // src and dst of different families.
        { R + "match = { src = [\"10.0.0.0/8\"], dst = [\"2001:db8::/32\"] }\n", "shaper.toml:5:33: warning: match of [[rule]] 'r1' can never match: src is only IPv4 and dst only IPv6; use addresses of one family in src and dst, or split the rule in two" },

        // Block with one shared bucket.
        { R + "action = \"block\"\nblock_for = \"10m\"\nper = \"rule\"\n", "shaper.toml:7:7: warning: action = \"block\" with per = \"rule\" in [[rule]] 'r1' blocks whichever source sends when the shared bucket is empty; use per = \"src\" to block only the sources over their own limit" },

    };

    [Theory]
    [MemberData(nameof(OneError))]
    public void Parse_OneMistake_ReportsExactlyThatError(string toml, string expected)
    {
        var result = ConfigText.Load(toml);

        Assert.Null(result.Config);
        Assert.True(result.HasErrors);
        Assert.Equal([expected], ConfigText.Errors(result));
    }

    [Theory]
    [MemberData(nameof(OneWarning))]
    public void Parse_OneDoubtfulSetting_ReportsExactlyThatWarningAndLoads(string toml, string expected)
    {
        var result = ConfigText.Load(toml);

        Assert.NotNull(result.Config);
        Assert.False(result.HasErrors);
        Assert.Equal([expected], ConfigText.Lines(result));
    }

    [Fact]
    public void Parse_MisspeltRequiredKey_ReportsOnlyTheMisspelling()
    {
        // "burts" is one mistake: "has no burst" would say it twice.
        var result = ConfigText.Load("[[rule]]\nname = \"ssh-new\"\nrate = \"10/s\"\nburts = 5\n");

        Assert.Equal(["shaper.toml:4:1: unknown key 'burts' in [[rule]] 'ssh-new'; did you mean 'burst'?"], ConfigText.Lines(result));
    }

    [Fact]
    public void Parse_FieldThatDoesNotApply_IsDroppedFromTheModel()
    {
        var rule = Assert.Single(ConfigText.Load(R + "limit = 10\nwindow = \"1m\"\nqueue = 5\nblock_for = \"1m\"\n").Config!.Rules);

        Assert.Null(rule.Limit);
        Assert.Null(rule.Window);
        Assert.Null(rule.Queue);
        Assert.Null(rule.BlockFor);
        Assert.Equal(5, rule.Burst);
    }

    [Fact]
    public void Parse_FiveMistakes_ReportsFiveErrorsInFileOrder()
    {
        var toml = """
            [daemon]
            backend = "nft"

            [[rule]]
            name = "ssh-new"
            rate = "10/minuet"
            burst = 5
            burts = 5

            [[rule]]
            name = "ssh-new"
            rate = "1/s"
            burst = 1
            match = { proto = "tcp", dport = [70000] }
            """;

        var result = ConfigText.Load(toml);

        Assert.Equal(
            [
                "shaper.toml:2:11: backend of [daemon] cannot be \"nft\"; write one of auto, nftables, iptables, none",
                "shaper.toml:6:8: rate of [[rule]] 'ssh-new': unknown period 'minuet' in '10/minuet'; did you mean 'minute'?",
                "shaper.toml:8:1: unknown key 'burts' in [[rule]] 'ssh-new'; did you mean 'burst'?",
                "shaper.toml:11:8: duplicate rule name 'ssh-new' (first at line 5); give each rule a unique name: it names the rule's kernel sets and counters",
                $"shaper.toml:14:35: match.dport of [[rule]] 'ssh-new': port 70000 is out of range; {PortHint}",
            ],
            ConfigText.Lines(result));
    }

    [Theory]
    [InlineData("[daemon]\ninterface = \"eth0\n", "shaper.toml:2:13: invalid TOML: this string is not closed on its line; end it with the same quote it starts with, or use \"\"\" for a multi-line string")] // an unclosed string, at its start
    [InlineData("[[rule]]\nname = \n", "shaper.toml:2:8: invalid TOML: unexpected token end-of-line found while expecting a value; write valid TOML here (https://toml.io)")] // a key without a value, at the line's end
    [InlineData("[daemon]\ninterface = \"eth0\\", "shaper.toml:2:13: invalid TOML: this string is not closed on its line; end it with the same quote it starts with, or use \"\"\" for a multi-line string")] // a backslash as the file's last character (Tomlyn 2.10.2 throws on it)
    [InlineData("[daemon]\nbackend = \"auto\"\nbackend = \"none\"\n", "shaper.toml:3:1: invalid TOML: 'daemon.backend' is defined twice (first at line 2); define each key and table once; use [[name]] for a list of tables")] // a key twice
    [InlineData("[global]\n[global]\n", "shaper.toml:2:1: invalid TOML: 'global' is defined twice (first at line 1); define each key and table once; use [[name]] for a list of tables")] // a table twice
    public void Parse_TomlSyntaxError_ReportedWithLineAndColumn(string toml, string expected)
    {
        var result = ConfigText.Load(toml);

        Assert.Null(result.Config);
        Assert.Equal(expected, ConfigText.Lines(result)[0]);
    }

    [Fact]
    public void Parse_NestingDeeperThanTomlynAllows_OneErrorNoException()
    {
        var toml = "[daemon]\nx = " + new string('[', 100) + new string(']', 100) + "\n";

        var result = ConfigText.Load(toml);

        Assert.Equal(["shaper.toml:2:37: invalid TOML: values nest too deeply; nest arrays and tables at most a few levels deep"], ConfigText.Lines(result));
    }

    [Fact]
    public void Parse_QuotedKeyWithNewline_DiagnosticStaysOnOneLine()
    {
        var result = ConfigText.Load(R + "\"bad\\nkey\\u202e\" = 1\n");

        Assert.Equal(["shaper.toml:5:1: unknown key 'bad\\u000akey\\u202e' in [[rule]] 'r1'; valid keys are name, match, per, algorithm, rate, burst, limit, window, queue, enforce, action, block_for, mode, scope"], ConfigText.Lines(result));
    }
}
