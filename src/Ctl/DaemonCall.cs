using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Shaper.Control;

namespace Shaper.Ctl;

/// <summary>Sends one request to shaperd and prints the answer: JSON with --json, else through a text formatter.</summary>
internal static class DaemonCall
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static int Run(ParseResult parse, GlobalOptions global, string command, JsonObject args, Action<JsonNode?, TextWriter> text)
    {
        var output = parse.InvocationConfiguration.Output;
        var error = parse.InvocationConfiguration.Error;
        var client = new ControlClient(parse.GetRequiredValue(global.Socket), TimeSpan.FromSeconds(Math.Max(0.1, parse.GetValue(global.Timeout))));
        var response = client.SendAsync(new ControlRequest(ControlProtocol.Version, command, args)).GetAwaiter().GetResult();
        if (!response.Ok)
        {
            error.WriteLine($"shaperctl: {response.Error}");
            return ExitCodes.Failed;
        }

        if (parse.GetValue(global.Json))
        {
            output.WriteLine(response.Result?.ToJsonString() ?? "null");
        }
        else
        {
            text(response.Result, output);
        }

        return ExitCodes.Ok;
    }

    /// <summary>Prints an object's fields one per line, <c>name: value</c>.</summary>
    public static void Fields(JsonNode? result, TextWriter output)
    {
        if (result is JsonObject o)
        {
            foreach (var (name, value) in o)
            {
                output.WriteLine($"{name}: {value?.ToJsonString().Trim('"')}");
            }
        }
        else
        {
            output.WriteLine(result?.ToJsonString(Indented));
        }
    }
}
