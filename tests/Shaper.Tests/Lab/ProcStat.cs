namespace Shaper.Tests.Lab;

/// <summary>A process's or thread's <c>/proc/.../stat</c> line, split into its fields.</summary>
public static class ProcStat
{
    /// <summary>
    /// The fields after the command name, from the state on: index 0 is proc(5)'s field 3, so field N is at N - 3
    /// (utime 11, stime 12, nice 16). The name, in parentheses, may hold spaces and parentheses itself, so the split
    /// starts after the last ')'.
    /// </summary>
    public static string[] Fields(string path)
    {
        var stat = File.ReadAllText(path);
        return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    }
}
