using System.Text.Json.Nodes;

namespace Shaper.Control;

/// <summary>One control response line: <c>{"v":1,"ok":true,"result":…}</c> or <c>{"v":1,"ok":false,"error":"…"}</c>.</summary>
public sealed record ControlResponse(bool Ok, JsonNode? Result, string? Error)
{
    /// <summary>A success carrying <paramref name="result"/>.</summary>
    public static ControlResponse Success(JsonNode? result) => new(true, result, null);

    /// <summary>A failure with a one-line reason.</summary>
    public static ControlResponse Failure(string error) => new(false, null, error);
}
