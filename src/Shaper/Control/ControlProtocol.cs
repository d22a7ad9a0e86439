using System.Text.Json;
using System.Text.Json.Nodes;

namespace Shaper.Control;

/// <summary>The control socket's wire format: versioned, line-delimited JSON, one request and one response per line.</summary>
public static class ControlProtocol
{
    /// <summary>The protocol version this build speaks.</summary>
    public const int Version = 1;

    /// <summary>The largest request line accepted (a rule file travels inside <c>rules.apply</c>).</summary>
    public const int MaxRequestBytes = 1 << 20;

    // A repeated key would let a request say two things at once (which "cmd" counts?): refused, as invalid JSON is.
    private static readonly JsonDocumentOptions Strict = new() { AllowDuplicateProperties = false };

    /// <summary>Commands that change the daemon's state: only root and members of the <c>shaper</c> group may send them.</summary>
    public static readonly IReadOnlySet<string> WriteCommands = new HashSet<string>(StringComparer.Ordinal)
    {
        "rules.apply", "reload", "block.add", "block.del",
    };

    /// <summary>Serialises a request to one line (without the newline).</summary>
    public static string Format(ControlRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return new JsonObject
        {
            ["v"] = request.Version,
            ["cmd"] = request.Command,
            ["args"] = request.Args.DeepClone(),
        }.ToJsonString();
    }

    /// <summary>Serialises a response to one line (without the newline).</summary>
    public static string Format(ControlResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        var json = new JsonObject { ["v"] = Version, ["ok"] = response.Ok };
        if (response.Ok)
        {
            json["result"] = response.Result?.DeepClone();
        }
        else
        {
            json["error"] = response.Error;
        }

        return json.ToJsonString();
    }

    /// <summary>Parses a request line; on failure <paramref name="error"/> says what is wrong in one line.</summary>
    public static bool TryParseRequest(string line, out ControlRequest? request, out string? error)
    {
        request = null;
        try
        {
            if (JsonNode.Parse(line, documentOptions: Strict) is not JsonObject json)
            {
                error = "a request is a JSON object on one line";
                return false;
            }

            if (json["v"] is not JsonValue v || !v.TryGetValue<int>(out var version))
            {
                error = "the request has no protocol version \"v\"";
                return false;
            }

            if (version != Version)
            {
                error = $"protocol version {version} is not spoken here; this daemon speaks version {Version}";
                return false;
            }

            if (json["cmd"] is not JsonValue c || !c.TryGetValue<string>(out var command) || command.Length == 0)
            {
                error = "the request has no command \"cmd\"";
                return false;
            }

            var args = json["args"] switch
            {
                null => [],
                JsonObject o => (JsonObject)o.DeepClone(),
                _ => null,
            };
            if (args is null)
            {
                error = "\"args\" must be an object";
                return false;
            }

            request = new ControlRequest(version, command, args);
            error = null;
            return true;
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            error = IsJsonWithRepeatedKey(line) ? "the request repeats a key; give each key once" : "the request is not valid JSON";
            return false;
        }
    }

    /// <summary>True when <paramref name="line"/> is JSON once repeated keys are allowed: so its fault is a repeated key.</summary>
    private static bool IsJsonWithRepeatedKey(string line)
    {
        try
        {
            using var document = JsonDocument.Parse(line);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Parses a response line; a line that is not a response becomes a failure saying so.</summary>
    public static ControlResponse ParseResponse(string line)
    {
        try
        {
            if (JsonNode.Parse(line) is JsonObject json && json["ok"] is JsonValue ok && ok.TryGetValue<bool>(out var success))
            {
                return success
                    ? ControlResponse.Success(json["result"]?.DeepClone())
                    : ControlResponse.Failure(json["error"]?.GetValue<string>() ?? "the daemon gave no reason");
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
        }

        return ControlResponse.Failure("the daemon answered something that is not a control response");
    }
}
