using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Shaper.Control;

namespace Shaper.Daemon.Control;

/// <summary>
/// One control command: reads its arguments, does its one job and answers with a typed reply, serialised
/// through <see cref="ControlJsonContext"/> so the reply's field names and order are fixed by its type.
/// </summary>
internal abstract class ControlHandler
{
    /// <summary>The command's wire name, e.g. <c>status</c> or <c>block.add</c>.</summary>
    public abstract string Command { get; }

    /// <summary>Answers one request; a bad argument throws <see cref="ControlArgumentException"/>.</summary>
    public abstract Task<ControlResponse> HandleAsync(ControlArgs args, CancellationToken cancel);

    /// <summary>A success carrying <paramref name="reply"/> in its contract shape.</summary>
    protected static ControlResponse Reply<T>(T reply, JsonTypeInfo<T> type) =>
        ControlResponse.Success(JsonSerializer.SerializeToNode(reply, type));

    /// <summary>A success carrying a document that is already JSON (a rule in the file's own words).</summary>
    protected static ControlResponse Reply(JsonNode document) => ControlResponse.Success(document);
}
