using Shaper.Rules.Toml;

namespace Shaper.Rules;

/// <summary>
/// Reads one <c>[[rule]]</c> and checks it on its own: its fields, what its algorithm needs, what does not
/// apply to it, and combinations that cannot work. Checks that span rules are in <see cref="ConfigChecks"/>.
/// </summary>
internal sealed class RuleReader(FieldReader fields)
{
    public static readonly IReadOnlyList<string> Keys =
        ["name", "match", "per", "algorithm", "rate", "burst", "limit", "window", "queue", "enforce", "action", "block_for", "mode", "scope"];

    /// <summary>The fields whose presence depends on the algorithm, in the order messages list them.</summary>
    private static readonly string[] SizingKeys = ["rate", "burst", "limit", "window", "queue"];

    private static readonly Dictionary<string, string> Examples = new()
    {
        ["rate"] = "\"10/s\"",
        ["burst"] = "5",
        ["limit"] = "100",
        ["window"] = "\"1m\"",
        ["queue"] = "50",
    };

    private readonly FieldReader _fields = fields;
    private readonly MatchReader _matches = new(fields);

    public RuleRead Read(TomlTable table, int index)
    {
        var bag = _fields.Bag;
        var errorsBefore = bag.ErrorCount;
        var nameEntry = table.Find("name");
        var nameText = nameEntry?.Value is TomlScalar { Kind: TomlValueKind.String, Value: string n } ? n : null;
        var rule = nameText is null ? $"[[rule]] #{index}" : $"[[rule]] '{MessageText.Short(nameText)}'";
        var seen = new Dictionary<string, TomlEntry>();
        var result = new Rule { Name = nameText ?? "", Location = table.Location };
        SourceLocation? srcLocation = null;
        var fieldLocations = new Dictionary<string, SourceLocation>(StringComparer.Ordinal);
        var broken = new HashSet<string>();
        var misspelt = new HashSet<string>();

        foreach (var entry in table.Entries)
        {
            var subject = $"{entry.Key} of {rule}";
            seen[entry.Key] = entry;
            switch (entry.Key)
            {
                case "name":
                    if (_fields.String(entry, subject, "\"ssh-new\"") is { } name && !RuleNames.IsValid(name))
                    {
                        var suggestion = RuleNames.Suggest(name);
                        bag.Error(
                            entry.Value.Location,
                            $"rule name '{MessageText.Short(name)}' cannot name kernel objects",
                            suggestion is null ? RuleNames.Rule : $"{RuleNames.Rule}, e.g. '{suggestion}'");
                    }

                    break;
                case "match":
                    if (entry.Value is TomlTable matchTable)
                    {
                        (var match, srcLocation) = _matches.Read(matchTable, rule, fieldLocations);
                        result = result with { Match = match };
                    }
                    else
                    {
                        bag.Error(entry.Value.Location, $"{subject} must be a table, not {entry.Value.Describe()}", "write match = { proto = \"tcp\", dport = [22] }");
                    }

                    break;
                case "per":
                    if (_fields.String(entry, subject, "\"src\"") is { } per)
                    {
                        if (KeyScopeParser.TryParse(per, out var scope, out var error))
                        {
                            result = result with { Per = scope };
                        }
                        else
                        {
                            bag.Error(entry.Value.Location, $"{subject}: {error.Message}", error.Hint);
                            broken.Add(entry.Key);
                        }
                    }

                    break;
                case "algorithm":
                    result = Set(entry, _fields.Choice(entry, subject, Choices.Algorithm), broken, result, (r, v) => r with { Algorithm = v });
                    break;
                case "enforce":
                    result = Set(entry, _fields.Choice(entry, subject, Choices.Enforce), broken, result, (r, v) => r with { Enforce = v });
                    break;
                case "action":
                    result = Set(entry, _fields.Choice(entry, subject, Choices.Action), broken, result, (r, v) => r with { Action = v });
                    break;
                case "mode":
                    result = Set(entry, _fields.Choice(entry, subject, Choices.Mode), broken, result, (r, v) => r with { Mode = v });
                    break;
                case "scope":
                    result = Set(entry, _fields.Choice(entry, subject, Choices.Scope), broken, result, (r, v) => r with { Scope = v });
                    break;
                case "rate":
                    result = result with { Rate = _fields.Rate(entry, subject) };
                    break;
                case "burst":
                    result = result with { Burst = _fields.Integer(entry, subject, 1, uint.MaxValue, "5") };
                    break;
                case "limit":
                    result = result with { Limit = _fields.Integer(entry, subject, 1, int.MaxValue, "100") };
                    break;
                case "window":
                    result = result with { Window = _fields.Duration(entry, subject, "\"1m\"") };
                    break;
                case "queue":
                    result = result with { Queue = (int?)_fields.Integer(entry, subject, 1, 1_000_000, "50") };
                    break;
                case "block_for":
                    result = result with { BlockFor = _fields.Duration(entry, subject, "\"10m\"") };
                    break;
                default:
                    var meant = _fields.UnknownKey(entry, rule, Keys, MatchReader.Keys.Contains(entry.Key)
                        ? $"it belongs in match, e.g. match = {{ {entry.Key} = … }}"
                        : null);
                    if (meant is not null)
                    {
                        // "burts = 5" is one mistake: the unknown key says so, so "has no burst" would only repeat it.
                        misspelt.Add(meant);
                    }

                    break;
            }
        }

        if (nameEntry is null && !misspelt.Contains("name"))
        {
            bag.Error(table.Location, $"{rule} has no name", $"add name = \"...\"; {RuleNames.Rule}");
        }

        result = CheckAlgorithm(result, rule, table, seen, broken, misspelt);
        result = CheckAction(result, rule, seen, broken, misspelt);
        CheckPer(result, rule, seen, broken);
        return new RuleRead(
            result,
            rule,
            nameEntry?.Value.Location ?? table.Location,
            seen.GetValueOrDefault("rate")?.Value.Location,
            seen.GetValueOrDefault("burst")?.Value.Location,
            srcLocation,
            seen.GetValueOrDefault("enforce")?.Value.Location ?? table.Location,
            Locations(seen, fieldLocations),
            bag.ErrorCount > errorsBefore);
    }

    private static Dictionary<string, SourceLocation> Locations(Dictionary<string, TomlEntry> seen, Dictionary<string, SourceLocation> match)
    {
        foreach (var (key, entry) in seen)
        {
            match[key] = entry.Value.Location;
        }

        return match;
    }

    /// <summary>What the algorithm needs, what does not apply to it, and whether it can run where <c>enforce</c> puts it.</summary>
    private Rule CheckAlgorithm(Rule rule, string subject, TomlTable table, Dictionary<string, TomlEntry> seen, HashSet<string> broken, HashSet<string> misspelt)
    {
        if (broken.Contains("algorithm") || broken.Contains("enforce"))
        {
            return rule;
        }

        var bag = _fields.Bag;
        var algorithm = Choices.NameOf(Choices.Algorithm, rule.Algorithm);
        var enforceWritten = seen.TryGetValue("enforce", out var enforceEntry);
        var needs = Needs(rule.Algorithm, rule.Enforce);
        var described = rule.Algorithm == AlgorithmKind.LeakyBucket
            ? rule.Enforce == EnforceKind.Queue ? "leaky_bucket as a queue (enforce = \"queue\")" : "leaky_bucket as a meter"
            : algorithm;

        foreach (var need in needs)
        {
            if (!seen.ContainsKey(need) && !misspelt.Contains(need))
            {
                bag.Error(table.Location, $"{subject} has no {need}", $"{described} needs {string.Join(" and ", needs)}; add {need} = {Examples[need]}");
            }
        }

        foreach (var key in SizingKeys)
        {
            if (seen.TryGetValue(key, out var extra) && !needs.Contains(key))
            {
                bag.Warning(extra.KeyLocation, $"{key} does not apply to {described} in {subject}", $"remove it; {described} uses {string.Join(" and ", needs)}");
                rule = key switch
                {
                    "rate" => rule with { Rate = null },
                    "burst" => rule with { Burst = null },
                    "limit" => rule with { Limit = null },
                    "window" => rule with { Window = null },
                    _ => rule with { Queue = null },
                };
            }
        }

        var where = enforceEntry?.Value.Location ?? seen.GetValueOrDefault("algorithm")?.Value.Location ?? table.Location;
        if (rule.Enforce == EnforceKind.Kernel && rule.Algorithm != AlgorithmKind.TokenBucket)
        {
            bag.Error(
                where,
                $"algorithm = \"{algorithm}\" of {subject} cannot run in the kernel (enforce = \"kernel\"{(enforceWritten ? "" : " is the default")})",
                rule.Algorithm == AlgorithmKind.LeakyBucket
                    ? "use enforce = \"observe\" (a meter, with rate and burst) or enforce = \"queue\" (with rate and queue)"
                    : "use enforce = \"observe\": the daemon runs it over captured packets");
        }
        else if (rule.Enforce == EnforceKind.Queue && rule.Algorithm != AlgorithmKind.LeakyBucket)
        {
            bag.Error(where, $"enforce = \"queue\" of {subject} needs algorithm = \"leaky_bucket\", not \"{algorithm}\"", "set algorithm = \"leaky_bucket\" with rate and queue, or use enforce = \"observe\"");
        }
        else if (rule.Enforce == EnforceKind.Kernel && rule.Rate is { } rate && RateParser.AsWholeKernelRate(rate.Rate) is null)
        {
            bag.Error(
                seen["rate"].Value.Location,
                $"rate '{rate.Text}' of {subject} is not a whole number per second, minute, hour or day, which nft and iptables need",
                "write a rate such as \"10/s\" or \"3/minute\", or use enforce = \"observe\"");
        }

        if (rule.Algorithm == AlgorithmKind.SlidingLog && rule.Limit > Limiting.SlidingLogLimiter.MaxLimit)
        {
            // The log keeps `limit` timestamps for every key: its memory is limit × 8 bytes per source.
            bag.Error(
                seen["limit"].Value.Location,
                $"limit {rule.Limit} of {subject} is above {Limiting.SlidingLogLimiter.MaxLimit}, the most a sliding_log keeps per key",
                "lower the limit, or use algorithm = \"sliding_window\", which needs two counters per key whatever the limit");
        }

        return rule;
    }

    private Rule CheckAction(Rule rule, string subject, Dictionary<string, TomlEntry> seen, HashSet<string> broken, HashSet<string> misspelt)
    {
        if (broken.Contains("action"))
        {
            return rule;
        }

        var bag = _fields.Bag;
        if (rule.Action == RuleAction.Block && !seen.ContainsKey("block_for") && !misspelt.Contains("block_for"))
        {
            bag.Error(seen["action"].Value.Location, $"action = \"block\" of {subject} has no block_for", "add block_for = \"10m\" (how long an offender stays blocked)");
        }
        else if (rule.Action != RuleAction.Block && seen.TryGetValue("block_for", out var blockFor))
        {
            bag.Warning(blockFor.KeyLocation, $"block_for of {subject} applies only to action = \"block\"", "remove it, or set action = \"block\"");
            rule = rule with { BlockFor = null };
        }

        return rule;
    }

    private void CheckPer(Rule rule, string subject, Dictionary<string, TomlEntry> seen, HashSet<string> broken)
    {
        if (broken.Contains("per") || broken.Contains("action") || !seen.TryGetValue("per", out var per))
        {
            return;
        }

        var bag = _fields.Bag;
        if (rule.Action == RuleAction.Block && rule.Per.Kind == KeyKind.Destination)
        {
            bag.Error(per.Value.Location, $"action = \"block\" of {subject} blocks sources, but per = \"dst\" counts per destination", "use per = \"src\" (or src/N) with block, or another action");
        }
        else if (rule.Action == RuleAction.Block && rule.Per.Kind == KeyKind.Rule)
        {
            bag.Warning(per.Value.Location, $"action = \"block\" with per = \"rule\" in {subject} blocks whichever source sends when the shared bucket is empty", "use per = \"src\" to block only the sources over their own limit");
        }

        if (rule.Per.Kind == KeyKind.SourceAndDport && rule.Enforce == EnforceKind.Observe && rule.Mode == RuleMode.Hard && rule.Action is RuleAction.Drop or RuleAction.Reject)
        {
            var action = rule.Action == RuleAction.Drop ? "drop" : "reject";
            bag.Error(per.Value.Location, $"action = \"{action}\" of observe {subject} holds each key in a kernel set of addresses, which per = \"src+dport\" cannot key", "use per = \"src\" (or src/N), or action = \"log\"");
        }

        if (rule.Per.Kind == KeyKind.SourceAndDport && rule.Match.Proto is Protocol.Icmp or Protocol.Icmpv6)
        {
            bag.Error(per.Value.Location, $"per = \"src+dport\" of {subject} needs ports, but match.proto has none", "use per = \"src\", or match proto = \"tcp\" or \"udp\"");
        }
    }

    private static string[] Needs(AlgorithmKind algorithm, EnforceKind enforce) => algorithm switch
    {
        AlgorithmKind.TokenBucket => ["rate", "burst"],
        AlgorithmKind.LeakyBucket when enforce == EnforceKind.Queue => ["rate", "queue"],
        AlgorithmKind.LeakyBucket => ["rate", "burst"],
        _ => ["limit", "window"],
    };

    private static Rule Set<T>(TomlEntry entry, T? value, HashSet<string> broken, Rule rule, Func<Rule, T, Rule> apply)
        where T : struct
    {
        if (value is { } known)
        {
            return apply(rule, known);
        }

        broken.Add(entry.Key);
        return rule;
    }
}
