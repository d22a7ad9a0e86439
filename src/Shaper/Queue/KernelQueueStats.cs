using System.Globalization;

namespace Shaper.Queue;

/// <summary>
/// One queue's line of <c>/proc/net/netfilter/nfnetlink_queue</c>, the kernel's own figures (net/netfilter/
/// nfnetlink_queue.c, seq_show: queue number, peer port id, packets waiting, copy mode, copy range, packets dropped
/// because the queue was full, packets dropped because the socket's buffer was full, last packet id).
/// </summary>
/// <param name="Number">The queue number.</param>
/// <param name="PortId">The netlink port id of the socket that bound it.</param>
/// <param name="Waiting">Packets the kernel holds for it now (held by the daemon, or not yet read).</param>
/// <param name="QueueDropped">Packets dropped because the queue was full (0 with fail-open, which accepts them).</param>
/// <param name="UserDropped">Packets lost because the socket's buffer was full.</param>
/// <param name="IdSequence">The last packet id: packets queued since it was bound.</param>
public sealed record KernelQueueStats(int Number, uint PortId, long Waiting, long QueueDropped, long UserDropped, long IdSequence)
{
    /// <summary>The file the kernel writes them to, for the reader's network namespace.</summary>
    public const string Path = "/proc/net/netfilter/nfnetlink_queue";

    /// <summary>Every bound queue in <paramref name="text"/> (the file's content); lines that do not parse are skipped.</summary>
    public static List<KernelQueueStats> Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var stats = new List<KernelQueueStats>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length >= 8
                && int.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out var number)
                && uint.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out var port)
                && long.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out var waiting)
                && long.TryParse(f[5], NumberStyles.None, CultureInfo.InvariantCulture, out var dropped)
                && long.TryParse(f[6], NumberStyles.None, CultureInfo.InvariantCulture, out var userDropped)
                && long.TryParse(f[7], NumberStyles.None, CultureInfo.InvariantCulture, out var ids))
            {
                stats.Add(new KernelQueueStats(number, port, waiting, dropped, userDropped, ids));
            }
        }

        return stats;
    }

    /// <summary>The queues bound now in this process's network namespace; empty when the file is not there (no queue bound since boot, or no NFQUEUE).</summary>
    public static List<KernelQueueStats> Read()
    {
        try
        {
            return Parse(File.ReadAllText(Path));
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }
    }
}
