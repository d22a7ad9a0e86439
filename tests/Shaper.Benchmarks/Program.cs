using System.Text.Json;
using System.Text.Json.Nodes;

namespace Shaper.Benchmarks;

/// <summary>
/// Shaper's benchmarks: each suite measures ours and a baseline side by side in the same run and writes
/// artifacts/bench/SUITE.json. Usage: Shaper.Benchmarks [--quick] [--out DIR] [engine|all]...
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == "--replay-child")
        {
            return ReplayBenchmark.RunChild(args[1]);
        }

        if (args.Length == 2 && args[0] == "--kernel-child")
        {
            return KernelBenchmark.RunChild(args[1] == "quick");
        }

        var options = BenchOptions.Parse(args);
        Directory.CreateDirectory(options.OutputDirectory);
        if (options.Wants("engine"))
        {
            Write(options, "engine", EngineBenchmark.Run(options));
        }

        if (options.Wants("replay"))
        {
            Write(options, "replay", ReplayBenchmark.Run(options));
        }

        if (options.Wants("kernel") && KernelBenchmark.Run(options) is { } kernel)
        {
            Write(options, "kernel", kernel);
        }

        if (options.Wants("daemon") && DaemonBenchmark.Run(options) is { } daemon)
        {
            Write(options, "daemon", daemon);
        }

        if (options.Wants("queue") && QueueBenchmark.Run(options) is { } queue)
        {
            Write(options, "queue", queue);
        }

        if (options.Wants("fleet") && FleetBenchmark.Run(options) is { } fleet)
        {
            Write(options, "fleet", fleet);
        }

        return 0;
    }

    private static void Write(BenchOptions options, string suite, JsonObject result)
    {
        var path = Path.Combine(options.OutputDirectory, suite + ".json");
        File.WriteAllText(path, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        Console.WriteLine($"wrote {path}");
    }
}
