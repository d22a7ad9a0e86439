using System.CommandLine;
using Shaper.Engine;
using Shaper.Replay;
using Shaper.Rules;

namespace Shaper.Ctl;

/// <summary><c>shaperctl replay [--rules FILE] [--json] INPUT</c>: what a rule set would have done to a capture, offline.</summary>
internal static class ReplayCommand
{
    public static Command Create(GlobalOptions global)
    {
        var input = new Argument<string>("INPUT") { Description = "A .pcap, .pcapng or .csv file (CSV: time,src[,dst,proto,sport,dport,len,flags,iface])." };
        var rules = new Option<string?>("--rules")
        {
            Description = $"The rules file to replay; default {DefaultConfiguration.Path}, or the built-in default when that does not exist.",
            HelpName = "FILE",
        };
        var top = new Option<int>("--top")
        {
            Description = "Keys shown per rule in the table (--json lists every key).",
            DefaultValueFactory = _ => 10,
        };
        var command = new Command("replay", "Replay a capture or CSV through the rules with the packets' own timestamps; no daemon, no root. Every rule runs its algorithm whatever its enforce, so kernel rules can be previewed.")
        {
            input,
            rules,
            top,
        };
        command.SetAction(parse => Run(
            parse.GetRequiredValue(input),
            parse.GetValue(rules),
            parse.GetValue(global.Json),
            parse.GetValue(top),
            parse.InvocationConfiguration.Output,
            parse.InvocationConfiguration.Error));
        return command;
    }

    public static int Run(string input, string? rulesPath, bool json, int top, TextWriter output, TextWriter error)
    {
        // Replay previews every rule whatever its enforce, so it skips the checks of which enforcer carries it out.
        var loaded = DefaultConfiguration.LoadOrDefault(rulesPath, LoadOptions.Replay);
        foreach (var diagnostic in loaded.Diagnostics)
        {
            error.WriteLine(diagnostic);
        }

        if (loaded.Config is not { } config)
        {
            error.WriteLine($"shaperctl: replay: the rules have errors; nothing was replayed");
            return ExitCodes.Failed;
        }

        try
        {
            using var source = ReplaySources.Open(input);
            var result = ReplayRunner.Run(
                CompiledRuleSet.Compile(config),
                source,
                TimeProvider.System,
                packets => error.WriteLine($"replay: {packets:N0} packets…"));
            if (json)
            {
                using var stdout = Console.OpenStandardOutput();
                if (ReferenceEquals(output, Console.Out))
                {
                    ReplayReportWriter.WriteJson(result, stdout);
                }
                else
                {
                    using var buffer = new MemoryStream();
                    ReplayReportWriter.WriteJson(result, buffer);
                    output.Write(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
                }
            }
            else
            {
                ReplayReportWriter.WriteTable(result, output, top);
            }

            // A rule held to an interface matches only packets the input says arrived there.
            if (result.Interfaces == 0)
            {
                foreach (var rule in config.Rules)
                {
                    if (rule.Match.Iface is { } iface)
                    {
                        error.WriteLine($"shaperctl: replay: warning: {input} names no interface for its packets, so rule '{rule.Name}' (match.iface = \"{iface}\") matched none of them; give a CSV an iface column to replay it");
                    }
                }
            }

            // The replay of what came before the cut stands; the cut is said once, on stderr, and counted.
            if (source.CutOff is { } cut)
            {
                error.WriteLine($"shaperctl: replay: warning: {input}: {cut}; the capture was cut off, the frames before the cut were replayed and the cut one is counted as truncated");
            }

            return ExitCodes.Ok;
        }
        catch (ReplayInputException e)
        {
            error.WriteLine($"shaperctl: replay: {e.Message}");
            return ExitCodes.Failed;
        }
    }
}
