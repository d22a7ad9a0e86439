namespace Shaper.Firewall;

/// <summary>
/// Names the kernel a ruleset generation belongs to: the boot (<c>/proc/sys/kernel/random/boot_id</c>, new at every
/// boot), the caller's network namespace (its <c>/proc/thread-self/ns/net</c> link, <c>net:[inode]</c>) and the layout
/// of the block sets, as generations count from 1 again in every new namespace and a new layout means new sets.
/// </summary>
public static class KernelInstance
{
    /// <summary>The block sets' layout: one hash set per family and prefix length, elements with their own timeout.</summary>
    private const string Layout = "blocksets-1";

    /// <summary>The calling thread's kernel instance; null when /proc cannot tell (then nothing is vouched for).</summary>
    public static string? Current()
    {
        try
        {
            var boot = File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
            var netns = new FileInfo("/proc/thread-self/ns/net").LinkTarget;
            return boot.Length == 0 || netns is null ? null : $"{Layout}:{boot}:{netns}";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
