using System.CommandLine;

namespace Shaper.Daemon;

internal static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("shaperd: the Shaper daemon; installs per-IP rate limits into the kernel and watches live traffic.");
        return root.Parse(args).Invoke();
    }
}
