namespace Shaper.Benchmarks;

/// <summary>Command-line options shared by every suite.</summary>
internal sealed record BenchOptions(bool Quick, string OutputDirectory, IReadOnlyList<string> Suites)
{
    public static BenchOptions Parse(string[] args)
    {
        var quick = false;
        var output = Path.Combine("artifacts", "bench");
        var suites = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--quick":
                    quick = true;
                    break;
                case "--out" when i + 1 < args.Length:
                    output = args[++i];
                    break;
                default:
                    suites.Add(args[i]);
                    break;
            }
        }

        return new BenchOptions(quick, output, suites);
    }

    public bool Wants(string suite) => Suites.Count == 0 || Suites.Contains(suite) || Suites.Contains("all");
}
