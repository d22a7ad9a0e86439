using System.Net;
using System.Text;
using Shaper.Rules.Toml;

namespace Shaper.Rules;

/// <summary>Reads the document's tables into a <see cref="ShaperConfig"/>, reporting every problem into the bag.</summary>
internal sealed class ConfigReader(DiagnosticBag bag, string file, LoadOptions options)
{
    private static readonly string[] RootKeys = ["daemon", "global", "fleet", "allow", "rule"];
    private static readonly string[] DaemonKeys = ["interface", "backend", "socket", "metrics", "state_dir", "keep_on_stop", "max_keys", "capture_threads", "max_blocks", "max_held", "queue_num", "queues"];
    private static readonly string[] GlobalKeys = ["rate", "burst"];
    private static readonly string[] AllowKeys = ["cidr"];
    private static readonly string[] FleetKeys = ["redis", "host", "sync", "hosts", "slow_call"];

    /// <summary>sun_path holds 108 bytes with the terminating NUL.</summary>
    private const int MaxSocketPathBytes = 107;

    private readonly DiagnosticBag _bag = bag;
    private readonly string _file = file;
    private readonly FieldReader _fields = new(bag);
    private readonly LoadOptions _options = options;
    private readonly Dictionary<string, SourceLocation> _globalLocations = new(StringComparer.Ordinal);

    public ShaperConfig Read(TomlTable root)
    {
        var daemon = new DaemonSettings();
        GlobalLimit? global = null;
        FleetSettings? fleet = null;
        var allow = new List<IPNetwork>();
        var rules = new List<RuleRead>();
        var ruleReader = new RuleReader(_fields);
        foreach (var entry in root.Entries)
        {
            switch (entry.Key)
            {
                case "daemon":
                    if (SingleTable(entry) is { } daemonTable)
                    {
                        daemon = ReadDaemon(daemonTable);
                    }

                    break;
                case "global":
                    if (SingleTable(entry) is { } globalTable)
                    {
                        global = ReadGlobal(globalTable);
                    }

                    break;
                case "fleet":
                    if (SingleTable(entry) is { } fleetTable)
                    {
                        fleet = ReadFleet(fleetTable);
                    }

                    break;
                case "allow":
                    foreach (var table in TableList(entry))
                    {
                        allow.AddRange(ReadAllow(table));
                    }

                    break;
                case "rule":
                    foreach (var table in TableList(entry))
                    {
                        rules.Add(ruleReader.Read(table, rules.Count + 1));
                    }

                    break;
                default:
                    UnknownRootEntry(entry);
                    break;
            }
        }

        var checkedRules = new ConfigChecks(_bag, _options).Run(rules, global, _globalLocations, allow, daemon, fleet);
        return new ShaperConfig
        {
            Daemon = daemon,
            Global = global,
            Allow = allow,
            Rules = checkedRules,
            Fleet = fleet,
            SourceFile = _file,
        };
    }

    private DaemonSettings ReadDaemon(TomlTable table)
    {
        var daemon = new DaemonSettings();
        foreach (var entry in table.Entries)
        {
            var subject = $"{entry.Key} of [daemon]";
            switch (entry.Key)
            {
                case "interface":
                    if (_fields.String(entry, subject, "\"eth0\"") is { } name)
                    {
                        if (name.Length == 0 || InterfaceNames.IsValid(name, allowWildcard: false))
                        {
                            daemon = daemon with { Interface = name };
                        }
                        else
                        {
                            _bag.Error(entry.Value.Location, $"{subject}: '{name}' is not an interface name", "write a name such as \"eth0\" (1 to 15 characters, no '/', ':' or spaces), or \"\" for no capture");
                        }
                    }

                    break;
                case "backend":
                    daemon = daemon with { Backend = _fields.Choice(entry, subject, Choices.Backend) ?? daemon.Backend };
                    break;
                case "socket":
                    if (AbsolutePath(entry, subject, "\"/run/shaper/shaperd.sock\"") is { } socket)
                    {
                        if (Encoding.UTF8.GetByteCount(socket) > MaxSocketPathBytes)
                        {
                            _bag.Error(entry.Value.Location, $"{subject} is longer than {MaxSocketPathBytes} bytes, the most a Unix socket path can hold", "use a shorter path, e.g. \"/run/shaper/shaperd.sock\"");
                        }
                        else
                        {
                            daemon = daemon with { Socket = socket };
                        }
                    }

                    break;
                case "metrics":
                    if (_fields.String(entry, subject, "\"127.0.0.1:9477\"") is { } metrics)
                    {
                        if (metrics.Length == 0 || EndpointParser.TryParse(metrics, out _))
                        {
                            daemon = daemon with { Metrics = metrics };
                        }
                        else
                        {
                            _bag.Error(entry.Value.Location, $"{subject}: '{metrics}' is not an address and port", "write an IP address and port such as \"127.0.0.1:9477\" or \"[::1]:9477\" (host names are not resolved), or \"\" for off");
                        }
                    }

                    break;
                case "state_dir":
                    if (AbsolutePath(entry, subject, "\"/var/lib/shaper\"") is { } stateDir)
                    {
                        daemon = daemon with { StateDir = stateDir };
                    }

                    break;
                case "keep_on_stop":
                    daemon = daemon with { KeepOnStop = _fields.Boolean(entry, subject) ?? daemon.KeepOnStop };
                    break;
                case "max_keys":
                    daemon = daemon with { MaxKeys = (int)(_fields.Integer(entry, subject, 1024, 1 << 24, "262144") ?? daemon.MaxKeys) };
                    break;
                case "max_blocks":
                    // No more than a kernel block set holds: a block past it would be acknowledged and not enforced.
                    daemon = daemon with { MaxBlocks = (int)(_fields.Integer(entry, subject, 1, Firewall.NftBlockSets.Size, "1048576") ?? daemon.MaxBlocks) };
                    break;
                case "max_held":
                    daemon = daemon with { MaxHeld = (int)(_fields.Integer(entry, subject, 1, 1 << 20, "4096") ?? daemon.MaxHeld) };
                    break;
                case "queue_num":
                    daemon = daemon with { QueueNum = (int)(_fields.Integer(entry, subject, 0, 65000, "1000") ?? daemon.QueueNum) };
                    break;
                case "queues":
                    daemon = daemon with { Queues = (int)(_fields.Integer(entry, subject, 1, DaemonSettings.MaxQueues, "2") ?? daemon.Queues) };
                    break;
                case "capture_threads":
                    daemon = daemon with { CaptureThreads = (int)(_fields.Integer(entry, subject, 1, DaemonSettings.MaxCaptureThreads, "2") ?? daemon.CaptureThreads) };
                    break;
                default:
                    _fields.UnknownKey(entry, "[daemon]", DaemonKeys, Elsewhere(entry.Key, "[daemon]"));
                    break;
            }
        }

        return daemon;
    }

    private GlobalLimit? ReadGlobal(TomlTable table)
    {
        RateSpec? rate = null;
        long? burst = null;
        bool rateSeen = false, burstSeen = false;
        foreach (var entry in table.Entries)
        {
            var subject = $"{entry.Key} of [global]";
            switch (entry.Key)
            {
                case "rate":
                    rateSeen = true;
                    _globalLocations["[global] rate"] = entry.Value.Location;
                    rate = _fields.Rate(entry, subject);
                    break;
                case "burst":
                    burstSeen = true;
                    _globalLocations["[global] burst"] = entry.Value.Location;
                    burst = _fields.Integer(entry, subject, 1, uint.MaxValue, "40000");
                    break;
                default:
                    _fields.UnknownKey(entry, "[global]", GlobalKeys, Elsewhere(entry.Key, "[global]"));
                    break;
            }
        }

        if (!rateSeen)
        {
            _bag.Error(table.Location, "[global] has no rate", "add rate = \"20000/s\" (the host-wide cap), or remove [global]");
        }

        if (!burstSeen)
        {
            _bag.Error(table.Location, "[global] has no burst", "add burst = 40000 (the host-wide bucket size), or remove [global]");
        }

        return rate is not null && burst is not null ? new GlobalLimit(rate, burst.Value) : null;
    }

    private FleetSettings? ReadFleet(TomlTable table)
    {
        var fleet = new FleetSettings { Location = table.Location };
        var redisSeen = false;
        foreach (var entry in table.Entries)
        {
            var subject = $"{entry.Key} of [fleet]";
            switch (entry.Key)
            {
                case "redis":
                    redisSeen = true;
                    if (_fields.String(entry, subject, "\"198.18.0.9:6379\"") is { } redis)
                    {
                        if (Fleet.RedisFleetStore.ConfigurationError(redis) is { } error)
                        {
                            _bag.Error(entry.Value.Location, $"{subject}: {error}", "write host:port, or several separated by commas for a Redis Cluster, e.g. \"198.18.0.9:6379\"");
                        }
                        else
                        {
                            fleet = fleet with { Redis = redis };
                        }
                    }

                    break;
                case "host":
                    if (_fields.String(entry, subject, "\"web-1\"") is { } host)
                    {
                        if (host.Length > 64 || host.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_')))
                        {
                            _bag.Error(entry.Value.Location, $"{subject}: '{MessageText.Short(host)}' is not a host name", "use letters, digits, '.', '-' and '_', at most 64 characters, or \"\" for the machine's host name");
                        }
                        else
                        {
                            fleet = fleet with { Host = host };
                        }
                    }

                    break;
                case "sync":
                    if (_fields.Duration(entry, subject, "\"100ms\"") is { } sync)
                    {
                        if (sync < FleetSettings.MinSync || sync > FleetSettings.MaxSync)
                        {
                            _bag.Error(entry.Value.Location, $"{subject} must be between 10ms and 60s", "write sync = \"100ms\" (each host exchanges its hits with Redis this often)");
                        }
                        else
                        {
                            fleet = fleet with { Sync = sync };
                        }
                    }

                    break;
                case "slow_call":
                    if (_fields.Duration(entry, subject, "\"45ms\"") is { } slowCall)
                    {
                        if (slowCall < TimeSpan.FromMilliseconds(1) || slowCall > FleetSettings.MaxSync)
                        {
                            _bag.Error(entry.Value.Location, $"{subject} must be between 1ms and 60s", "write slow_call = \"45ms\", or leave it out for nine tenths of a store call's timeout (half of sync)");
                        }
                        else
                        {
                            fleet = fleet with { SlowCall = slowCall };
                        }
                    }

                    break;
                case "hosts":
                    fleet = fleet with { Hosts = (int)(_fields.Integer(entry, subject, 1, FleetSettings.MaxHosts, "3") ?? fleet.Hosts) };
                    break;
                default:
                    _fields.UnknownKey(entry, "[fleet]", FleetKeys, Elsewhere(entry.Key, "[fleet]"));
                    break;
            }
        }

        if (!redisSeen)
        {
            _bag.Error(table.Location, "[fleet] has no redis", "add redis = \"198.18.0.9:6379\" (the store the fleet shares), or remove [fleet]");
        }

        return fleet;
    }

    private List<IPNetwork> ReadAllow(TomlTable table)
    {
        var result = new List<IPNetwork>();
        var seen = false;
        foreach (var entry in table.Entries)
        {
            if (entry.Key != "cidr")
            {
                _fields.UnknownKey(entry, "[[allow]]", AllowKeys, Elsewhere(entry.Key, "[[allow]]"));
                continue;
            }

            seen = true;
            result.AddRange(_fields.Cidrs(entry, "cidr of [[allow]]") ?? []);
            if (entry.Value is TomlArray { Items.Count: 0 })
            {
                _bag.Warning(entry.Value.Location, "cidr of [[allow]] is an empty list, which allows nothing", "list the networks that must never be limited, e.g. cidr = [\"127.0.0.0/8\", \"::1/128\"]");
            }
        }

        if (!seen)
        {
            _bag.Error(table.Location, "[[allow]] has no cidr", "add cidr = [\"127.0.0.0/8\", \"::1/128\"] (networks that are never limited)");
        }

        return result;
    }

    private TomlTable? SingleTable(TomlEntry entry)
    {
        switch (entry.Value)
        {
            case TomlTable table:
                return table;
            case TomlArray { IsTableArray: true }:
                _bag.Error(entry.KeyLocation, $"[[{entry.Key}]] must be a single table", $"write [{entry.Key}] (one pair of brackets)");
                return null;
            default:
                _bag.Error(entry.Value.Location, $"{entry.Key} must be a table, not {entry.Value.Describe()}", $"write [{entry.Key}] and its keys on the lines below it");
                return null;
        }
    }

    private IEnumerable<TomlTable> TableList(TomlEntry entry)
    {
        switch (entry.Value)
        {
            case TomlArray array:
                foreach (var item in array.Items)
                {
                    if (item is TomlTable table)
                    {
                        yield return table;
                    }
                    else
                    {
                        _bag.Error(item.Location, $"each {entry.Key} must be a table, not {item.Describe()}", $"write each one as [[{entry.Key}]] with its keys below it");
                    }
                }

                break;
            case TomlTable:
                _bag.Error(entry.KeyLocation, $"[{entry.Key}] must be an array of tables", $"write [[{entry.Key}]] (two pairs of brackets), once per {entry.Key}");
                break;
            default:
                _bag.Error(entry.Value.Location, $"{entry.Key} must be an array of tables, not {entry.Value.Describe()}", $"write [[{entry.Key}]] (two pairs of brackets), once per {entry.Key}");
                break;
        }
    }

    private void UnknownRootEntry(TomlEntry entry)
    {
        string Header(string name) => name is "allow" or "rule" ? $"[[{name}]]" : $"[{name}]";
        var nearest = NameSuggester.Nearest(entry.Key, RootKeys);
        var valid = "valid tables are [daemon], [global], [fleet], [[allow]] and [[rule]]";
        switch (entry.Value)
        {
            case TomlTable { Origin: TomlTableOrigin.Header or TomlTableOrigin.Implicit }:
                _bag.Error(entry.KeyLocation, $"unknown table '[{entry.Key}]'", nearest is null ? valid : $"did you mean '{Header(nearest)}'?");
                break;
            case TomlArray { IsTableArray: true }:
                _bag.Error(entry.KeyLocation, $"unknown table '[[{entry.Key}]]'", nearest is null ? valid : $"did you mean '{Header(nearest)}'?");
                break;
            default:
                _bag.Error(
                    entry.KeyLocation,
                    $"unknown key '{entry.Key}' at the top level",
                    Elsewhere(entry.Key, "the top level") ?? (nearest is null ? $"keys belong in a table; {valid}" : $"did you mean '{Header(nearest)}'?"));
                break;
        }
    }

    /// <summary>"it belongs in [daemon]" when a key is valid in another table than the one it is in.</summary>
    private static string? Elsewhere(string key, string here)
    {
        var homes = new List<string>();
        if (DaemonKeys.Contains(key))
        {
            homes.Add("[daemon]");
        }

        if (GlobalKeys.Contains(key))
        {
            homes.Add("[global]");
        }

        if (FleetKeys.Contains(key))
        {
            homes.Add("[fleet]");
        }

        if (AllowKeys.Contains(key))
        {
            homes.Add("[[allow]]");
        }

        if (RuleReader.Keys.Contains(key))
        {
            homes.Add("[[rule]]");
        }

        if (MatchReader.Keys.Contains(key))
        {
            homes.Add("the match of a [[rule]]");
        }

        homes.Remove(here);
        return homes.Count == 0 ? null : $"'{key}' belongs in {string.Join(" or ", homes)}";
    }

    private string? AbsolutePath(TomlEntry entry, string subject, string example)
    {
        var path = _fields.String(entry, subject, example);
        if (path is null)
        {
            return null;
        }

        if (!path.StartsWith('/') || path.Contains('\0', StringComparison.Ordinal))
        {
            _bag.Error(entry.Value.Location, $"{subject} must be an absolute path, not '{path}'", $"write {entry.Key} = {example}");
            return null;
        }

        return path;
    }
}
