using System.Text.Json;
using Shaper.Ctl;

namespace Shaper.Tests.Rules;

/// <summary><c>shaperctl rules validate FILE</c>, run in process: exit codes, stdout and stderr.</summary>
public sealed class RulesValidateCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("shaperctl-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Validate_ValidFile_ExitsZeroWithOneLineSummaryOnStdout()
    {
        var path = Write("[[allow]]\ncidr = [\"127.0.0.0/8\"]\n" + ConfigText.Rule);

        var (code, output, error) = Run("rules", "validate", path);

        Assert.Equal(0, code);
        Assert.Equal($"{path}: 1 rule, 1 allowed network: OK\n", output);
        Assert.Equal("", error);
    }

    [Fact]
    public void Validate_ValidFileWithWarning_ExitsZeroAndPrintsWarningOnStderr()
    {
        var path = Write(ConfigText.Rule + "limit = 10\n");

        var (code, output, error) = Run("rules", "validate", path);

        Assert.Equal(0, code);
        Assert.Equal($"{path}: 1 rule, 0 allowed networks: OK (1 warning)\n", output);
        Assert.Equal($"{path}:5:1: warning: limit does not apply to token_bucket in [[rule]] 'r1'; remove it; token_bucket uses rate and burst\n", error);
    }

    [Fact]
    public void Validate_InvalidFile_ExitsOneWithEveryDiagnosticOnItsOwnLine()
    {
        var path = Write(ConfigText.Rule + "burts = 5\n" + "enforce = \"kernal\"\n");

        var (code, output, error) = Run("rules", "validate", path);

        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Equal(
            $"{path}:5:1: unknown key 'burts' in [[rule]] 'r1'; did you mean 'burst'?\n"
            + $"{path}:6:11: enforce of [[rule]] 'r1' cannot be \"kernal\"; did you mean 'kernel'?\n"
            + $"{path}: not valid (2 errors)\n",
            error);
    }

    [Fact]
    public void Validate_MissingFile_ExitsOneWithOneLine()
    {
        var path = Path.Combine(_directory, "missing.toml");

        var (code, _, error) = Run("rules", "validate", path);

        Assert.Equal(1, code);
        Assert.StartsWith($"{path}:1:1: cannot read the file: it does not exist; ", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("rules", "validate")] // no FILE
    [InlineData("rules")] // no subcommand
    [InlineData("rules", "validate", "a.toml", "b.toml")] // one FILE too many
    [InlineData("rules", "validate", "--frobnicate", "a.toml")] // unknown option
    [InlineData("rulez", "validate", "a.toml")] // unknown command
    public void Validate_BadCommandLine_ExitsTwoWithUsageOnStderr(params string[] args)
    {
        var (code, output, error) = Run(args);

        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.StartsWith("shaperctl: ", error, StringComparison.Ordinal);
        Assert.EndsWith("Run 'shaperctl --help' for usage.\n", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--json", "rules", "validate")] // before the command
    [InlineData("rules", "validate", "--json")] // after it
    public void Validate_Json_PrintsOneObjectWithDiagnosticsOnStdout(params string[] args)
    {
        var path = Write(ConfigText.Rule + "burts = 5\n");

        var (code, output, error) = Run([.. args, path]);

        Assert.Equal(1, code);
        Assert.Equal("", error);
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.False(root.GetProperty("valid").GetBoolean());
        Assert.Equal(1, root.GetProperty("errors").GetInt32());
        var diagnostic = Assert.Single(root.GetProperty("diagnostics").EnumerateArray().ToArray());
        Assert.Equal("error", diagnostic.GetProperty("severity").GetString());
        Assert.Equal(path, diagnostic.GetProperty("file").GetString());
        Assert.Equal(5, diagnostic.GetProperty("line").GetInt32());
        Assert.Equal(1, diagnostic.GetProperty("column").GetInt32());
        Assert.Equal("unknown key 'burts' in [[rule]] 'r1'", diagnostic.GetProperty("message").GetString());
        Assert.Equal("did you mean 'burst'?", diagnostic.GetProperty("hint").GetString());
    }

    [Fact]
    public void Validate_PackagedDefault_ExitsZero()
    {
        var path = RepoRoot.File("packaging", "shaper.toml");

        var (code, output, error) = Run("rules", "validate", path);

        Assert.Equal(0, code);
        Assert.Equal($"{path}: 1 rule, 2 allowed networks: OK\n", output);
        Assert.Equal("", error);
    }

    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter { NewLine = "\n" };
        using var error = new StringWriter { NewLine = "\n" };
        var code = Program.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    private string Write(string toml)
    {
        var path = Path.Combine(_directory, "shaper.toml");
        File.WriteAllText(path, toml);
        return path;
    }
}
