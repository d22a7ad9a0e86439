namespace Shaper.Firewall;

/// <summary>
/// Which kernel state the block store vouches for: the ruleset generation the daemon's own commits carried the kernel
/// to (see <see cref="NftNetlink.Chained"/>) with every block then recorded in the store, in one network namespace of
/// one boot. A restart that finds the same mark finds the kernel exactly as the daemon left it, as the generation
/// moves with every committed transaction of any process and only with those.
/// </summary>
/// <param name="Instance">The boot, the network namespace and the layout of the block sets (see <see cref="KernelInstance"/>).</param>
/// <param name="Generation">The ruleset generation id.</param>
public readonly record struct KernelMark(string Instance, uint Generation)
{
    /// <summary>As the store keeps it: the instance, a space, the generation.</summary>
    public override string ToString() => $"{Instance} {Generation}";

    /// <summary>The mark <paramref name="text"/> holds; null when it holds none (damaged or empty).</summary>
    public static KernelMark? Parse(string? text)
    {
        var space = text?.LastIndexOf(' ') ?? -1;
        return space > 0 && uint.TryParse(text.AsSpan(space + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var generation)
            ? new KernelMark(text![..space], generation)
            : null;
    }
}
