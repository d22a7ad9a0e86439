namespace Shaper.Firewall;

/// <summary>
/// One kernel set of blocks: all its elements are networks of one family and one prefix length, so no two can
/// overlap and each keeps its own time to live. Hosts are <c>block_v4</c>/<c>block_v6</c>; a prefix length
/// <c>L</c> is <c>block_v4_pL</c>/<c>block_v6_pL</c>, a hash set of the networks' base addresses, matched by
/// masking the packet's source to <c>L</c> bits. <paramref name="Kind"/> names the family of sets (<c>block</c>
/// for the operator's and the rules' blocks; other enforcers keep their own sets, such as <c>drop</c>).
/// </summary>
public readonly record struct BlockSet(bool V4, int PrefixLength, string Kind = BlockSet.Blocks)
{
    /// <summary>The kind of the block sets.</summary>
    public const string Blocks = "block";

    /// <summary>The longest prefix of the family: a host.</summary>
    public int HostLength => V4 ? 32 : 128;

    /// <summary>True for the set of single addresses.</summary>
    public bool IsHosts => PrefixLength == HostLength;

    /// <summary>The set's name in the table.</summary>
    public string Name => IsHosts
        ? $"{Kind}_{(V4 ? "v4" : "v6")}"
        : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Kind}_{(V4 ? "v4" : "v6")}_p{PrefixLength}");

    /// <summary>The set named <paramref name="name"/>, if it is the name of a set of <paramref name="kind"/>.</summary>
    public static BlockSet? Parse(string name, string kind = Blocks)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(kind);
        if (!name.StartsWith(kind + "_v", StringComparison.Ordinal) || name.Length < kind.Length + 3)
        {
            return null;
        }

        var family = name[kind.Length + 2];
        if (family is not ('4' or '6'))
        {
            return null;
        }

        var v4 = family == '4';
        var rest = name.AsSpan(kind.Length + 3);
        if (rest.Length == 0)
        {
            return new BlockSet(v4, v4 ? 32 : 128, kind);
        }

        return rest.Length > 2 && rest.StartsWith("_p")
            && int.TryParse(rest[2..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var length)
            && length < (v4 ? 32 : 128)
            ? new BlockSet(v4, length, kind)
            : null;
    }
}
