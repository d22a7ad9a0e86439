using System.Globalization;
using System.Text.Json;
using Shaper.Engine;

namespace Shaper.Replay;

/// <summary>Writes a <see cref="ReplayResult"/> as DESIGN.md's stable JSON or as a readable table.</summary>
public static class ReplayReportWriter
{
    /// <summary>
    /// Writes <c>{"rules":[{"name","passed","limited","delayed","keys":[{"key","passed","limited","delayed","max_delay_ms"}]}]}</c>,
    /// with <c>"dropped_max_held"</c> after a queue rule's <c>"delayed"</c> (its packets dropped because <c>max_held</c> were
    /// held, also in <c>"limited"</c>), and <c>"global_limited"</c> after the rules when a <c>[global]</c> cap applies.
    /// Keys are ordered by limited, then passed (both descending), then key text, so the output is stable.
    /// </summary>
    public static void WriteJson(ReplayResult result, Stream output)
    {
        ArgumentNullException.ThrowIfNull(result);
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteStartArray("rules");
        foreach (var rule in result.Rules)
        {
            json.WriteStartObject();
            json.WriteString("name", rule.Name);
            json.WriteNumber("passed", rule.Passed);
            json.WriteNumber("limited", rule.Limited);
            json.WriteNumber("delayed", rule.Delayed);
            if (rule.DroppedMaxHeld is { } capped)
            {
                json.WriteNumber("dropped_max_held", capped);
            }

            json.WriteStartArray("keys");
            foreach (var key in Ordered(rule.Keys))
            {
                json.WriteStartObject();
                json.WriteString("key", key.Key);
                json.WriteNumber("passed", key.Counters.Passed);
                json.WriteNumber("limited", key.Counters.Limited);
                json.WriteNumber("delayed", key.Counters.Delayed);
                json.WriteNumber("max_delay_ms", key.Counters.MaxDelayMs);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        if (result.GlobalLimited is { } global)
        {
            json.WriteNumber("global_limited", global);
        }

        json.WriteEndObject();
        json.Flush();
        output.WriteByte((byte)'\n');
    }

    /// <summary>Writes a table: one line per rule, then its <paramref name="topKeys"/> most limited keys.</summary>
    public static void WriteTable(ReplayResult result, TextWriter output, int topKeys = 10)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(output);
        var c = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(c, $"{result.Packets} packets replayed, {result.Allowed} allowed by the allow list, {result.Frames.Skipped} frames skipped"));
        if (result.GlobalLimited is { } global)
        {
            output.WriteLine(string.Create(c, $"{global} over the [global] cap (a hard rule's are dropped before its own limit and not counted in it)"));
        }

        if (result.Rules.Count == 0)
        {
            output.WriteLine("no rules");
            return;
        }

        output.WriteLine(string.Create(c, $"{"RULE / KEY",-40} {"PASSED",12} {"LIMITED",12} {"DELAYED",12} {"MAX DELAY",10}"));
        foreach (var rule in result.Rules)
        {
            output.WriteLine(string.Create(c, $"{rule.Name,-40} {rule.Passed,12} {rule.Limited,12} {rule.Delayed,12} {"",10}"));
            if (rule.DroppedMaxHeld is > 0)
            {
                output.WriteLine(string.Create(c, $"  {rule.DroppedMaxHeld} of the limited dropped because max_held packets were held"));
            }

            var shown = 0;
            foreach (var key in Ordered(rule.Keys))
            {
                if (shown++ == topKeys)
                {
                    output.WriteLine(string.Create(c, $"  … {rule.Keys.Count - topKeys} more keys (--json lists all)"));
                    break;
                }

                var k = key.Counters;
                output.WriteLine(string.Create(c, $"  {key.Key,-38} {k.Passed,12} {k.Limited,12} {k.Delayed,12} {k.MaxDelayMs,8}ms"));
            }
        }
    }

    private static List<KeyReport> Ordered(IReadOnlyList<KeyReport> keys)
    {
        var list = new List<KeyReport>(keys);
        list.Sort(static (a, b) =>
        {
            var byLimited = b.Counters.Limited.CompareTo(a.Counters.Limited);
            if (byLimited != 0)
            {
                return byLimited;
            }

            var byPassed = b.Counters.Passed.CompareTo(a.Counters.Passed);
            return byPassed != 0 ? byPassed : string.CompareOrdinal(a.Key, b.Key);
        });
        return list;
    }
}
