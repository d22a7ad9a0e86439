namespace Shaper.Firewall;

/// <summary>What other processes changed in the shaper's table since the last look (<see cref="NftMonitor.Drain"/>).</summary>
public sealed class NftChanges
{
    /// <summary>The kinds of change seen.</summary>
    public HashSet<NftChangeKind> Kinds { get; } = [];

    /// <summary>Per block set: the element keys (hex of the address bytes) someone else deleted.</summary>
    public Dictionary<string, HashSet<string>> DeletedElements { get; } = new(StringComparer.Ordinal);

    /// <summary>True when nothing was changed by anyone else.</summary>
    public bool IsEmpty => Kinds.Count == 0 && DeletedElements.Count == 0;

    /// <summary>Takes in <paramref name="other"/>'s changes.</summary>
    public void Add(NftChanges other)
    {
        ArgumentNullException.ThrowIfNull(other);
        Kinds.UnionWith(other.Kinds);
        foreach (var (set, keys) in other.DeletedElements)
        {
            if (!DeletedElements.TryGetValue(set, out var mine))
            {
                DeletedElements[set] = mine = new HashSet<string>(StringComparer.Ordinal);
            }

            mine.UnionWith(keys);
        }
    }
}
