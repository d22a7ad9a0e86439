namespace Shaper.Tests.Lab;

/// <summary>
/// Observe rules that count every UDP packet to port 9000 and limit none (a sliding window of a million a second):
/// each costs the capture thread one key lookup a packet, so many of them make a thread busy at a rate the lab's
/// sender reaches.
/// </summary>
public static class CountingRules
{
    /// <summary>One such rule, named <c>udp-count</c>.</summary>
    public static string One => Rule("udp-count");

    /// <summary><paramref name="count"/> such rules, named <c>udp-count-0</c> on.</summary>
    public static string Many(int count) => string.Join("\n", Enumerable.Range(0, count).Select(i => Rule($"udp-count-{i}")));

    private static string Rule(string name) => $$"""
        [[rule]]
        name = "{{name}}"
        match = { proto = "udp", dport = [9000] }
        algorithm = "sliding_window"
        limit = 1000000
        window = "1s"
        enforce = "observe"
        action = "log"

        """;
}
