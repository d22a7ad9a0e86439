using System.CommandLine;

namespace Shaper.Ctl;

internal static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("shaperctl: edit, validate and apply Shaper rules, show counters and blocks, replay captures offline.");
        return root.Parse(args).Invoke();
    }
}
