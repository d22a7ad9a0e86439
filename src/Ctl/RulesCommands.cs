using System.CommandLine;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Shaper.Rules;

namespace Shaper.Ctl;

/// <summary><c>shaperctl rules …</c>: the commands over the rules file.</summary>
internal static class RulesCommands
{
    public static Command Create(GlobalOptions global)
    {
        var rules = new Command("rules", "Check, show and apply the rules file.");
        rules.Subcommands.Add(CreateValidate(global));
        rules.Subcommands.Add(CreateList(global));
        rules.Subcommands.Add(CreateShow(global));
        rules.Subcommands.Add(CreateWithFile(global, "apply", "rules.apply", "Validate FILE and apply it to the running daemon in one transaction; on any error the running rules stay."));
        rules.Subcommands.Add(CreateWithFile(global, "diff", "rules.diff", "Show which rules applying FILE would add, remove or change."));
        return rules;
    }

    /// <summary>
    /// Loads <paramref name="path"/> with the daemon's own loader. Text mode prints each diagnostic on its own
    /// line to stderr and a one-line summary (to stdout when valid, stderr when not); JSON mode prints one
    /// object to stdout. Returns <see cref="ExitCodes.Ok"/> when the file has no errors, else <see cref="ExitCodes.Failed"/>.
    /// </summary>
    public static int Validate(string path, bool json, TextWriter output, TextWriter error)
    {
        var result = ConfigLoader.Load(path);
        if (json)
        {
            output.WriteLine(ToJson(path, result));
        }
        else
        {
            foreach (var diagnostic in result.Diagnostics)
            {
                error.WriteLine(diagnostic);
            }

            if (result.Config is { } config)
            {
                var warnings = result.WarningCount == 0 ? "" : $" ({Count(result.WarningCount, "warning")})";
                output.WriteLine($"{path}: {Count(config.Rules.Count, "rule")}, {Count(config.Allow.Count, "allowed network")}: OK{warnings}");
            }
            else
            {
                var warnings = result.WarningCount == 0 ? "" : $", {Count(result.WarningCount, "warning")}";
                error.WriteLine($"{path}: not valid ({Count(result.ErrorCount, "error")}{warnings})");
            }
        }

        return result.HasErrors ? ExitCodes.Failed : ExitCodes.Ok;
    }

    private static Command CreateValidate(GlobalOptions global)
    {
        var file = new Argument<string>("FILE") { Description = "The TOML rules file, e.g. /etc/shaper/shaper.toml." };
        var validate = new Command("validate", "Check a rules file offline (no daemon, no root) and print every error and warning as file:line:column.")
        {
            file,
        };
        validate.SetAction(parse => Validate(
            parse.GetRequiredValue(file),
            parse.GetValue(global.Json),
            parse.InvocationConfiguration.Output,
            parse.InvocationConfiguration.Error));
        return validate;
    }

    private static Command CreateList(GlobalOptions global)
    {
        var list = new Command("list", "List the running rules.");
        list.SetAction(parse => DaemonCall.Run(parse, global, "rules.list", [], (result, output) =>
        {
            foreach (var rule in result?["rules"]?.AsArray() ?? [])
            {
                var limit = rule!["rate"] is { } rate ? $"rate {rate} burst {rule["burst"]}" : $"limit {rule["limit"]} per {rule["window"]}";
                output.WriteLine($"{rule["name"],-24} {rule["enforce"],-8} {rule["algorithm"],-15} per {rule["per"],-10} {limit} -> {rule["action"]} ({rule["mode"]})");
            }
        }));
        return list;
    }

    private static Command CreateShow(GlobalOptions global)
    {
        var name = new Argument<string>("NAME") { Description = "The rule's name." };
        var show = new Command("show", "Show one running rule's fields.") { name };
        show.SetAction(parse => DaemonCall.Run(parse, global, "rules.show", new System.Text.Json.Nodes.JsonObject { ["name"] = parse.GetRequiredValue(name) }, DaemonCall.Fields));
        return show;
    }

    private static Command CreateWithFile(GlobalOptions global, string verb, string request, string description)
    {
        var file = new Argument<string>("FILE") { Description = "The TOML rules file." };
        var command = new Command(verb, description) { file };
        command.SetAction(parse =>
        {
            var path = parse.GetRequiredValue(file);
            var checkedFile = ConfigLoader.Load(path);
            foreach (var diagnostic in checkedFile.Diagnostics)
            {
                parse.InvocationConfiguration.Error.WriteLine(diagnostic);
            }

            if (checkedFile.HasErrors)
            {
                parse.InvocationConfiguration.Error.WriteLine($"{path}: not valid; nothing was sent to the daemon");
                return ExitCodes.Failed;
            }

            var args = new System.Text.Json.Nodes.JsonObject { ["text"] = File.ReadAllText(path), ["file"] = path };
            return DaemonCall.Run(parse, global, request, args, DaemonCall.Fields);
        });
        return command;
    }

    private static string Count(int count, string noun) => count == 1 ? $"1 {noun}" : $"{count} {noun}s";

    private static string ToJson(string path, LoadResult result)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("file", path);
            json.WriteBoolean("valid", !result.HasErrors);
            json.WriteNumber("errors", result.ErrorCount);
            json.WriteNumber("warnings", result.WarningCount);
            if (result.Config is { } config)
            {
                json.WriteNumber("rules", config.Rules.Count);
                json.WriteNumber("allow", config.Allow.Count);
            }

            json.WriteStartArray("diagnostics");
            foreach (var diagnostic in result.Diagnostics)
            {
                json.WriteStartObject();
                json.WriteString("severity", diagnostic.IsError ? "error" : "warning");
                json.WriteString("file", diagnostic.Location.File);
                json.WriteNumber("line", diagnostic.Location.Line);
                json.WriteNumber("column", diagnostic.Location.Column);
                json.WriteString("message", diagnostic.Message);
                json.WriteString("hint", diagnostic.Hint);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
