using System.CommandLine;

namespace Shaper.Ctl;

internal static class Program
{
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Parses and runs one command line; exit code 2 (<see cref="ExitCodes.Usage"/>) when the line itself is wrong.</summary>
    internal static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var global = new GlobalOptions();
        var root = new RootCommand("shaperctl: edit, validate and apply Shaper rules, show counters and blocks, replay captures offline.");
        global.AddTo(root);
        root.Subcommands.Add(RulesCommands.Create(global));
        root.Subcommands.Add(ReplayCommand.Create(global));
        foreach (var command in DaemonCommands.Create(global))
        {
            root.Subcommands.Add(command);
        }

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var problem in parse.Errors)
            {
                error.WriteLine($"shaperctl: {problem.Message}");
            }

            error.WriteLine("Run 'shaperctl --help' for usage.");
            return ExitCodes.Usage;
        }

        return parse.Invoke(new InvocationConfiguration { Output = output, Error = error });
    }
}
