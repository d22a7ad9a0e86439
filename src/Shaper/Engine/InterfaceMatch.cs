namespace Shaper.Engine;

/// <summary>
/// A rule's interface (its <c>match.iface</c>, or the captured <c>[daemon] interface</c> a rule without one is held to
/// when the capture is wider) as the interface indexes the packets carry. A name is resolved to its index; a name
/// ending in <c>*</c> to every interface whose name starts with the rest, as on every kernel backend. Resolved at start
/// and reload and again whenever the daemon re-reads the host's interfaces, since an interface that is deleted and
/// created again comes back with another index; until then its packets match no rule that names it. The indexes are
/// swapped in whole, so a capture thread reads one array and takes no lock.
/// </summary>
internal sealed class InterfaceMatch(string pattern)
{
    private volatile int[] _indexes = [];

    /// <summary>The interface name as written, or a prefix ending in <c>*</c>.</summary>
    public string Pattern { get; } = pattern;

    /// <summary>True when some interface has the name (or prefix) now.</summary>
    public bool Resolved => _indexes.Length > 0;

    /// <summary>True when the packet arrived on one of the interfaces.</summary>
    public bool Matches(int interfaceIndex)
    {
        foreach (var index in _indexes)
        {
            if (index == interfaceIndex)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Resolves the pattern against the host's interfaces now (name and index of each).</summary>
    public void Resolve(IReadOnlyList<(string Name, int Index)> interfaces)
    {
        var prefix = Pattern.EndsWith('*') ? Pattern[..^1] : null;
        var indexes = new List<int>();
        foreach (var (name, index) in interfaces)
        {
            if (index > 0 && (prefix is null ? name == Pattern : name.StartsWith(prefix, StringComparison.Ordinal)))
            {
                indexes.Add(index);
            }
        }

        _indexes = [.. indexes];
    }
}
