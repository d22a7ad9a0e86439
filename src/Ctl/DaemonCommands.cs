using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Shaper.Control;

namespace Shaper.Ctl;

/// <summary>The commands that talk to a running shaperd: status, reload, counters, block.</summary>
internal static class DaemonCommands
{
    public static IEnumerable<Command> Create(GlobalOptions global)
    {
        var status = new Command("status", "Show the daemon's state: rules, backend, capture, drops, reloads.");
        status.SetAction(parse => DaemonCall.Run(parse, global, "status", [], DaemonCall.Fields));
        yield return status;

        var reload = new Command("reload", "Re-read the configuration file; a file with errors keeps the running rules and says why.");
        reload.SetAction(parse => DaemonCall.Run(parse, global, "reload", [], DaemonCall.Fields));
        yield return reload;

        yield return Counters(global);
        yield return Block(global);
        yield return Fleet(global);
    }

    private static Command Fleet(GlobalOptions global)
    {
        var fleet = new Command("fleet", "The fleet store's sync ([fleet] and scope = \"fleet\" rules): its mode, circuit breaker, calls and latency.");
        var status = new Command("status", "Show the sync: shared or share_only (each host enforces limit / hosts), breaker state, calls by outcome, retries and quota, sync latency.");
        status.SetAction(parse => DaemonCall.Run(parse, global, "fleet.status", [], DaemonCall.Fields));
        fleet.Subcommands.Add(status);

        var breaker = new Command("breaker", "Set the store's circuit breaker by hand.");
        foreach (var (name, help) in (ReadOnlySpan<(string, string)>)[
            ("open", "Force it open: no store calls, each host enforces its share, until closed or disabled by hand."),
            ("close", "Close it (an empty window): store calls resume at the next sync."),
            ("disable", "Disable it: every store call is made, none is recorded, nothing trips it, until closed by hand.")])
        {
            var action = new Command(name, help);
            action.SetAction(parse => DaemonCall.Run(parse, global, "fleet.breaker", new JsonObject { ["action"] = name }, DaemonCall.Fields));
            breaker.Subcommands.Add(action);
        }

        fleet.Subcommands.Add(breaker);
        return fleet;
    }

    private static Command Counters(GlobalOptions global)
    {
        var rule = new Option<string?>("--rule") { Description = "Only this rule.", HelpName = "NAME" };
        var top = new Option<int>("--top") { Description = "Keys shown per rule, most limited first.", HelpName = "N", DefaultValueFactory = _ => 10 };
        var watch = new Option<bool>("--watch") { Description = "Redraw every second until interrupted." };
        var counters = new Command("counters", "Per rule and per key: passed, limited, delayed, and the X-Ratelimit-* view (remaining, limit, retry-after).")
        {
            rule,
            top,
            watch,
        };
        counters.SetAction(parse =>
        {
            var args = new JsonObject { ["top"] = parse.GetValue(top) };
            if (parse.GetValue(rule) is { } name)
            {
                args["rule"] = name;
            }

            if (!parse.GetValue(watch))
            {
                return DaemonCall.Run(parse, global, "counters", args, PrintCounters);
            }

            while (true)
            {
                if (!Console.IsOutputRedirected)
                {
                    Console.Clear();
                }

                var rc = DaemonCall.Run(parse, global, "counters", (JsonObject)args.DeepClone(), PrintCounters);
                if (rc != ExitCodes.Ok)
                {
                    return rc;
                }

                Thread.Sleep(1000);
            }
        });
        return counters;
    }

    private static void PrintCounters(JsonNode? result, TextWriter output)
    {
        var c = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(c, $"{"RULE / KEY",-34} {"PASSED",10} {"LIMITED",10} {"DELAYED",9} {"REMAINING",10} {"LIMIT",8} {"RETRY-AFTER",12}  STATE"));
        foreach (var rule in result?["rules"]?.AsArray() ?? [])
        {
            output.WriteLine(string.Create(c, $"{rule!["name"] + " (" + rule["enforce"] + ")",-34} {rule["passed"],10} {rule["limited"],10} {rule["delayed"],9}   keys {rule["keys_tracked"]}, evicted {rule["evictions"]}"));
            foreach (var key in rule["keys"]?.AsArray() ?? [])
            {
                var retry = key!["retry_after_ms"]!.GetValue<double>();
                var retryText = retry < 0 ? "never" : retry == 0 ? "now" : string.Create(c, $"{retry}ms");
                // A key in a kernel drop, reject or block set: which one, and for how much longer.
                var state = key["state"]?.GetValue<string>() is { } s && s != "open"
                    ? string.Create(c, $"  {s}, {key["state_left_ms"]}ms left")
                    : "";
                output.WriteLine(string.Create(c, $"  {key["key"],-32} {key["passed"],10} {key["limited"],10} {key["delayed"],9} {key["remaining"],10} {key["limit"],8} {retryText,12}{state}"));

                // A fleet rule's key: what the store counts across every host, under the host's own line.
                if (key["fleet"] is { } fleet)
                {
                    output.WriteLine(string.Create(c, $"    {"all hosts (fleet store)",-30} {fleet["passed"],10} {"",10} {"",9} {fleet["remaining"],10} {"",8} {"",12}  share {fleet["share_percent"]}%, grant {fleet["allowance"]}, {fleet["age_ms"]}ms ago"));
                }
            }
        }
    }

    private static Command Block(GlobalOptions global)
    {
        var block = new Command("block", "Block addresses or CIDRs in the kernel for a time, unblock them, list them.");

        var address = new Argument<string>("ADDRESS") { Description = "An IP address or CIDR, e.g. 198.18.0.1 or 198.18.0.0/24 (no host bits set, no IPv4-mapped IPv6)." };
        var forOption = new Option<string>("--for") { Description = "How long, e.g. 30s, 10m, 1h.", HelpName = "DURATION", DefaultValueFactory = _ => "10m" };
        var force = new Option<bool>("--force") { Description = $"Allow a block wider than /{BlockAddress.WidestV4} (IPv4) or /{BlockAddress.WidestV6} (IPv6)." };
        var add = new Command("add", "Block ADDRESS for --for. Addresses in [[allow]] are never blocked: a block inside one is refused, and allowed networks inside a wider block stay exempt.") { address, forOption, force };
        add.SetAction(parse => Checked(parse, parse.GetRequiredValue(address), adding: true, parse.GetValue(force)) ?? DaemonCall.Run(
            parse,
            global,
            "block.add",
            new JsonObject { ["address"] = parse.GetRequiredValue(address), ["for"] = parse.GetValue(forOption), ["force"] = parse.GetValue(force) },
            DaemonCall.Fields));
        block.Subcommands.Add(add);

        var delAddress = new Argument<string>("ADDRESS") { Description = "The address or CIDR to unblock, as it was blocked." };
        var del = new Command("del", "Remove a block.") { delAddress };
        del.SetAction(parse => Checked(parse, parse.GetRequiredValue(delAddress), adding: false, force: false) ?? DaemonCall.Run(
            parse,
            global,
            "block.del",
            new JsonObject { ["address"] = parse.GetRequiredValue(delAddress) },
            DaemonCall.Fields));
        block.Subcommands.Add(del);

        var list = new Command("list", "List active blocks with the time each has left and who decided it: manual (block add), rule NAME, or fleet from HOST (a fleet rule's block published by HOST).");
        list.SetAction(parse => DaemonCall.Run(parse, global, "block.list", [], (result, output) =>
        {
            foreach (var entry in result?["entries"]?.AsArray() ?? [])
            {
                var source = entry!["source"]!.GetValue<string>();
                var by = source switch
                {
                    "rule" => "rule " + entry["rule"]?.GetValue<string>(),
                    "fleet" => "fleet from " + entry["origin"]?.GetValue<string>(),
                    _ => source,
                };
                output.WriteLine($"{entry["network"]!.GetValue<string>()} expires in {entry["expires_in_s"]!.GetValue<double>()}s  {by}");
            }
        }));
        block.Subcommands.Add(list);
        return block;
    }

    /// <summary>The address checked here, by the parser the daemon uses too: null when good, else the exit code after one line on stderr.</summary>
    private static int? Checked(ParseResult parse, string text, bool adding, bool force)
    {
        if (BlockAddress.TryParse(text, adding, force, out _, out var error))
        {
            return null;
        }

        parse.InvocationConfiguration.Error.WriteLine($"shaperctl: {error}");
        return ExitCodes.Failed;
    }
}
