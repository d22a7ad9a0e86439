using System.Text.Json.Nodes;
using Shaper.Control;
using Shaper.Daemon.Control;

namespace Shaper.Tests.Daemon.Control;

public sealed class ControlDispatcherTests
{
    private static readonly PeerCredentials Root = new(1, 0, 0);

    [Fact]
    public async Task HandleAsync_UnknownCommand_AnswersAnError()
    {
        var dispatcher = new ControlDispatcher([new EchoHandler()]);

        var response = await dispatcher.HandleAsync(new ControlRequest(1, "nope", []), Root, CancellationToken.None);

        Assert.False(response.Ok);
        Assert.Equal("unknown command 'nope'", response.Error);
    }

    [Theory]
    [InlineData("{\"for\":{\"m\":10}}", "echo: argument \"for\" must be a string")] // an object does not quietly become the default
    [InlineData("{\"for\":10}", "echo: argument \"for\" must be a string")] // a number is not a duration text
    [InlineData("{\"top\":\"5\"}", "echo: argument \"top\" must be an integer")]
    [InlineData("{\"top\":1.5}", "echo: argument \"top\" must be an integer")]
    [InlineData("{\"force\":\"yes\"}", "echo: argument \"force\" must be true or false")]
    public async Task HandleAsync_ArgumentOfTheWrongType_AnswersAnErrorNamingIt(string args, string error)
    {
        var dispatcher = new ControlDispatcher([new EchoHandler()]);

        var response = await dispatcher.HandleAsync(new ControlRequest(1, "echo", JsonNode.Parse(args)!.AsObject()), Root, CancellationToken.None);

        Assert.False(response.Ok);
        Assert.Equal(error, response.Error);
    }

    [Fact]
    public async Task HandleAsync_AbsentArguments_ReadAsNull()
    {
        var dispatcher = new ControlDispatcher([new EchoHandler()]);

        var response = await dispatcher.HandleAsync(new ControlRequest(1, "echo", []), Root, CancellationToken.None);

        Assert.True(response.Ok, response.Error);
        Assert.Equal("for=,top=,force=False", response.Result!.GetValue<string>());
    }

    /// <summary>Reads every kind of argument and echoes them.</summary>
    private sealed class EchoHandler : ControlHandler
    {
        public override string Command => "echo";

        public override Task<ControlResponse> HandleAsync(ControlArgs args, CancellationToken cancel) =>
            Task.FromResult(ControlResponse.Success(JsonValue.Create($"for={args.Text("for")},top={args.Int("top")},force={args.Flag("force")}")));
    }
}
