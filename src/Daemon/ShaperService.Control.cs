using System.Net;
using System.Text.Json.Nodes;
using Shaper.Control;
using Shaper.Engine;
using Shaper.Rules;

namespace Shaper.Daemon;

/// <summary>The control socket's commands.</summary>
internal sealed partial class ShaperService
{
    private readonly long _startedAt = Environment.TickCount64;

    private async Task<ControlResponse> HandleAsync(ControlRequest request, PeerCredentials peer, CancellationToken cancel)
    {
        var args = request.Args;
        switch (request.Command)
        {
            case "status":
                return ControlResponse.Success(Status());
            case "rules.list":
                return ControlResponse.Success(new JsonObject { ["rules"] = new JsonArray([.. _config.Rules.Select(r => (JsonNode)RuleJson.Write(r))]) });
            case "rules.show":
                var name = Text(args, "name");
                var rule = _config.Rules.FirstOrDefault(r => r.Name == name);
                return rule is null
                    ? ControlResponse.Failure($"no rule named '{name}'; 'shaperctl rules list' shows the running rules")
                    : ControlResponse.Success(RuleJson.Write(rule));
            case "rules.diff":
                var candidate = ConfigLoader.Parse(Text(args, "text") ?? "", Text(args, "file") ?? "(file)");
                return candidate.Config is { } proposed
                    ? ControlResponse.Success(RuleJson.Diff(_config.Rules, proposed.Rules))
                    : ControlResponse.Failure(string.Join("; ", candidate.Diagnostics.Where(d => d.IsError)));
            case "rules.apply":
                var (applied, message) = await ReloadAsync("shaperctl rules apply", Text(args, "text") ?? "").ConfigureAwait(false);
                return applied ? ControlResponse.Success(new JsonObject { ["message"] = message }) : ControlResponse.Failure(message);
            case "reload":
                var (ok, why) = await ReloadAsync("shaperctl reload", null).ConfigureAwait(false);
                return ok ? ControlResponse.Success(new JsonObject { ["message"] = why }) : ControlResponse.Failure(why);
            case "counters":
                return ControlResponse.Success(await CountersAsync(Text(args, "rule"), Int(args, "top")).ConfigureAwait(false));
            case "block.add":
                return BlockAdd(args);
            case "block.del":
                return TryNetwork(Text(args, "address"), out var net, out var error)
                    ? (_kernel.Unblock(net) ? ControlResponse.Success(new JsonObject { ["removed"] = net.ToString() }) : ControlResponse.Failure($"{net} is not blocked"))
                    : ControlResponse.Failure(error);
            case "block.list":
                return ControlResponse.Success(new JsonObject { ["blocks"] = new JsonArray([.. _kernel.ListBlocks().Select(b => (JsonNode)b)]) });
            default:
                return ControlResponse.Failure($"unknown command '{request.Command}'");
        }
    }

    private JsonObject Status()
    {
        var capture = _capture?.Stats;
        return new JsonObject
        {
            ["version"] = typeof(ShaperService).Assembly.GetName().Version?.ToString(3),
            ["config"] = _arguments.ConfigPath,
            ["rules"] = _config.Rules.Count,
            ["backend"] = _kernel.BackendName,
            ["kernel"] = _kernel.State,
            ["capture"] = _capture is null ? "off" : _config.Daemon.Interface,
            ["capture_filter"] = _captureFilter,
            ["captured"] = capture?.Received ?? 0,
            ["capture_dropped"] = (capture?.PcapDropped ?? 0) + (capture?.InterfaceDropped ?? 0),
            ["handoff_dropped"] = _ring.Dropped,
            ["engine_packets"] = _engine?.Processed ?? 0,
            ["blocks"] = _kernel.BlockCount,
            ["kernel_reinstalls"] = _kernel.Reinstalls,
            ["netlink_fallbacks"] = _kernel.NetlinkFallbacks.Count,
            ["netlink_last_error"] = _kernel.NetlinkFallbacks.LastError,
            ["detect_to_block_count"] = _kernel.DetectToBlock.Count,
            ["detect_to_block_p50_ms"] = Round(_kernel.DetectToBlock.Percentile(0.50)),
            ["detect_to_block_p99_ms"] = Round(_kernel.DetectToBlock.Percentile(0.99)),
            ["reloads_ok"] = Interlocked.Read(ref _reloadsOk),
            ["reloads_failed"] = Interlocked.Read(ref _reloadsFailed),
            ["last_apply_ms"] = Math.Round(_lastApplyMs, 2),
            ["uptime_s"] = (Environment.TickCount64 - _startedAt) / 1000,
        };
    }

    private static double Round(double value) => double.IsNaN(value) ? -1 : Math.Round(value, 3);

    private async Task<JsonObject> CountersAsync(string? ruleName, int? top)
    {
        if (_engine is null)
        {
            return new JsonObject { ["rules"] = new JsonArray() };
        }

        var reports = await _engine.QueryAsync(engine => engine.Report(_engine.NowNs)).ConfigureAwait(false);
        var rules = new JsonArray();
        foreach (var report in reports)
        {
            if (ruleName is not null && report.Name != ruleName)
            {
                continue;
            }

            var rule = _config.Rules.First(r => r.Name == report.Name);
            var keys = report.Keys
                .OrderByDescending(k => k.Counters.Limited)
                .ThenByDescending(k => k.Counters.Passed)
                .ThenBy(k => k.Key, StringComparer.Ordinal)
                .Take(top ?? int.MaxValue)
                .Select(k => (JsonNode)new JsonObject
                {
                    ["key"] = k.Key,
                    ["passed"] = k.Counters.Passed,
                    ["limited"] = k.Counters.Limited,
                    ["delayed"] = k.Counters.Delayed,
                    ["remaining"] = k.Remaining,
                    ["limit"] = k.Limit,
                    ["retry_after_ms"] = k.RetryAfterNs == Limiting.LimitDecision.Never ? -1 : Math.Ceiling(k.RetryAfterNs / 1e6),
                });
            rules.Add(new JsonObject
            {
                ["name"] = report.Name,
                ["enforce"] = rule.Enforce.ToString().ToLowerInvariant(),
                ["passed"] = report.Passed,
                ["limited"] = report.Limited,
                ["delayed"] = report.Delayed,
                ["keys_tracked"] = report.KeysTracked,
                ["evictions"] = report.Evictions,
                ["keys"] = new JsonArray([.. keys]),
            });
        }

        foreach (var (name, passed, limited) in _kernel.RuleCounters())
        {
            if (ruleName is null || ruleName == name)
            {
                rules.Add(new JsonObject
                {
                    ["name"] = name,
                    ["enforce"] = "kernel",
                    ["passed"] = passed,
                    ["limited"] = limited,
                    ["delayed"] = 0,
                    ["keys_tracked"] = 0,
                    ["evictions"] = 0,
                    ["keys"] = new JsonArray(),
                });
            }
        }

        if (ruleName is not null && rules.Count == 0)
        {
            throw new ArgumentException($"no rule named '{ruleName}'");
        }

        return new JsonObject { ["rules"] = rules };
    }

    private ControlResponse BlockAdd(JsonObject args)
    {
        if (!TryNetwork(Text(args, "address"), out var network, out var error))
        {
            return ControlResponse.Failure(error);
        }

        var forText = Text(args, "for") ?? "10m";
        if (!DurationParser.TryParse(forText, out var ttl, out _) || ttl <= TimeSpan.Zero)
        {
            return ControlResponse.Failure($"--for '{forText}' is not a duration such as 30s, 10m or 1h");
        }

        _kernel.Block(network, ttl);
        return ControlResponse.Success(new JsonObject { ["blocked"] = network.ToString(), ["for_s"] = ttl.TotalSeconds });
    }

    private static bool TryNetwork(string? text, out IPNetwork network, out string error)
    {
        network = default;
        error = "";
        if (string.IsNullOrEmpty(text))
        {
            error = "give an address or CIDR, e.g. 198.18.0.1 or 198.18.0.0/24";
            return false;
        }

        if (text.Contains('/') ? IPNetwork.TryParse(text, out network) : TryHost(text, out network))
        {
            return true;
        }

        error = $"'{text}' is not an IP address or CIDR (CIDRs must have no host bits set)";
        return false;
    }

    private static bool TryHost(string text, out IPNetwork network)
    {
        network = default;
        if (!IPAddress.TryParse(text, out var address))
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        network = new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
        return true;
    }

    private static string? Text(JsonObject args, string name) =>
        args[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static int? Int(JsonObject args, string name) =>
        args[name] is JsonValue v && v.TryGetValue<int>(out var i) ? i : null;
}
