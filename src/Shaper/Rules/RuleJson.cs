using System.Globalization;
using System.Text.Json.Nodes;

namespace Shaper.Rules;

/// <summary>A rule as JSON, for <c>rules list|show|diff</c>: every field, in the file's own words.</summary>
public static class RuleJson
{
    /// <summary>The rule's fields as a JSON object, with the names the TOML file uses.</summary>
    public static JsonObject Write(Rule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var match = new JsonObject();
        if (rule.Match.Proto != Protocol.Any)
        {
            match["proto"] = rule.Match.Proto.ToString().ToLowerInvariant();
        }

        AddList(match, "dport", rule.Match.Dport.Select(p => p.ToString()));
        AddList(match, "sport", rule.Match.Sport.Select(p => p.ToString()));
        AddList(match, "src", rule.Match.Src.Select(n => n.ToString()));
        AddList(match, "dst", rule.Match.Dst.Select(n => n.ToString()));
        if (rule.Match.Syn is { } syn)
        {
            match["syn"] = syn;
        }

        if (rule.Match.Iface is { } iface)
        {
            match["iface"] = iface;
        }

        var json = new JsonObject
        {
            ["name"] = rule.Name,
            ["match"] = match,
            ["per"] = rule.Per.ToString(),
            ["algorithm"] = Snake(rule.Algorithm.ToString()),
        };
        if (rule.Rate is { } rate)
        {
            json["rate"] = rate.Text;
        }

        if (rule.Burst is { } burst)
        {
            json["burst"] = burst;
        }

        if (rule.Limit is { } limit)
        {
            json["limit"] = limit;
        }

        if (rule.Window is { } window)
        {
            json["window"] = Duration(window);
        }

        if (rule.Queue is { } queue)
        {
            json["queue"] = queue;
        }

        json["enforce"] = rule.Enforce.ToString().ToLowerInvariant();
        json["action"] = rule.Action.ToString().ToLowerInvariant();
        if (rule.BlockFor is { } blockFor)
        {
            json["block_for"] = Duration(blockFor);
        }

        json["mode"] = rule.Mode.ToString().ToLowerInvariant();
        return json;
    }

    /// <summary>Rules added, removed and changed from <paramref name="before"/> to <paramref name="after"/>, by name.</summary>
    public static JsonObject Diff(IReadOnlyList<Rule> before, IReadOnlyList<Rule> after)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var old = before.ToDictionary(r => r.Name, r => Write(r).ToJsonString());
        var now = after.ToDictionary(r => r.Name, r => Write(r).ToJsonString());
        return new JsonObject
        {
            ["added"] = new JsonArray([.. now.Keys.Where(k => !old.ContainsKey(k)).Select(k => (JsonNode)k)]),
            ["removed"] = new JsonArray([.. old.Keys.Where(k => !now.ContainsKey(k)).Select(k => (JsonNode)k)]),
            ["changed"] = new JsonArray([.. now.Keys.Where(k => old.TryGetValue(k, out var o) && o != now[k]).Select(k => (JsonNode)k)]),
        };
    }

    private static void AddList(JsonObject target, string name, IEnumerable<string> values)
    {
        var array = new JsonArray([.. values.Select(v => (JsonNode)v)]);
        if (array.Count > 0)
        {
            target[name] = array;
        }
    }

    private static string Snake(string pascal) =>
        string.Concat(pascal.Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    private static string Duration(TimeSpan span) =>
        span.TotalMilliseconds % 1000 != 0 ? string.Create(CultureInfo.InvariantCulture, $"{span.TotalMilliseconds}ms")
        : span.TotalSeconds % 86400 == 0 ? string.Create(CultureInfo.InvariantCulture, $"{span.TotalDays}d")
        : span.TotalSeconds % 3600 == 0 ? string.Create(CultureInfo.InvariantCulture, $"{span.TotalHours}h")
        : span.TotalSeconds % 60 == 0 ? string.Create(CultureInfo.InvariantCulture, $"{span.TotalMinutes}m")
        : string.Create(CultureInfo.InvariantCulture, $"{span.TotalSeconds}s");
}
