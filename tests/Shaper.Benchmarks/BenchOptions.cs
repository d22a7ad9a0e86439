namespace Shaper.Benchmarks;

/// <summary>
/// Command-line options shared by every suite. <c>--only PART[,PART]</c> runs only those parts of a suite (the daemon
/// suite's: block, idle, cpu, nodrop, scaling, flood); <c>--rates N[,N]</c> the daemon's CPU rates (0 = top speed);
/// <c>--perf DIR</c> records the daemon with <c>perf record -g</c> and <c>perf stat</c> during each measured CPU run
/// and each block round (that also with the scheduler's switches and wake-ups on every CPU); <c>--rounds N</c> runs the
/// daemon suite's block part N times, each in a fresh lab; <c>--warm-attack</c> lets 200 other offenders cross first there.
/// </summary>
internal sealed record BenchOptions(bool Quick, string OutputDirectory, IReadOnlyList<string> Suites)
{
    public IReadOnlyList<string> Only { get; init; } = [];

    public IReadOnlyList<int> Rates { get; init; } = [];

    public string? PerfDirectory { get; init; }

    public int Rounds { get; init; } = 1;

    public bool WarmAttack { get; init; }

    public static BenchOptions Parse(string[] args)
    {
        var quick = false;
        var output = Path.Combine("artifacts", "bench");
        var suites = new List<string>();
        var only = new List<string>();
        var rates = new List<int>();
        string? perf = null;
        var rounds = 1;
        var warmAttack = false;
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
                case "--only" when i + 1 < args.Length:
                    only.AddRange(args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries));
                    break;
                case "--rates" when i + 1 < args.Length:
                    rates.AddRange(args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries).Select(r => int.Parse(r, System.Globalization.CultureInfo.InvariantCulture)));
                    break;
                case "--warm-attack":
                    warmAttack = true;
                    break;
                case "--rounds" when i + 1 < args.Length:
                    rounds = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
                    break;
                case "--perf" when i + 1 < args.Length:
                    perf = args[++i];
                    break;
                default:
                    suites.Add(args[i]);
                    break;
            }
        }

        return new BenchOptions(quick, output, suites) { Only = only, Rates = rates, PerfDirectory = perf, Rounds = rounds, WarmAttack = warmAttack };
    }

    public bool Wants(string suite) => Suites.Count == 0 || Suites.Contains(suite) || Suites.Contains("all");

    /// <summary>Whether a suite's <paramref name="part"/> runs: all of them unless --only names some.</summary>
    public bool WantsPart(string part) => Only.Count == 0 || Only.Contains(part);
}
