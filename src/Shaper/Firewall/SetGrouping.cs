namespace Shaper.Firewall;

/// <summary>
/// Puts a transaction's elements in the order of their sets, so each set's elements go in as few NEWSETELEM
/// messages as fit. A set is keyed by family and prefix length, <c>(v4 ? 0 : 1) &lt;&lt; 8 | prefix</c>, so there are
/// fewer than <see cref="Keys"/> keys, and a counting sort orders them in one pass with no generic code: the
/// runtime's sort over two arrays is made at run time, and the first attack after a start paid for compiling it
/// on the install thread while a thousand offenders waited for their blocks.
/// </summary>
internal static class SetGrouping
{
    /// <summary>One more than the largest set key (an IPv6 set of prefix length 128).</summary>
    public const int Keys = (1 << 8) + 129;

    /// <summary>The key of the set of family <paramref name="v4"/> and <paramref name="prefixLength"/>.</summary>
    public static int Key(bool v4, int prefixLength) => ((v4 ? 0 : 1) << 8) | prefixLength;

    /// <summary>
    /// Reorders the first <paramref name="count"/> of <paramref name="keys"/> ascending and <paramref name="items"/>
    /// with them; items of one key keep their order. Keys that come ascending already (a restore's, all of one kind;
    /// an attack's of one family) are left as they are, without a copy.
    /// </summary>
    public static void Sort(int[] keys, int[] items, int count)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(items);
        var ascending = 1;
        while (ascending < count && keys[ascending] >= keys[ascending - 1])
        {
            ascending++;
        }

        if (ascending >= count)
        {
            return;
        }

        Span<int> next = stackalloc int[Keys + 1]; // zeroed: the project does not skip locals' initialization
        for (var i = 0; i < count; i++)
        {
            next[keys[i] + 1]++;
        }

        for (var k = 1; k <= Keys; k++)
        {
            next[k] += next[k - 1];
        }

        var sortedKeys = new int[count];
        var sortedItems = new int[count];
        for (var i = 0; i < count; i++)
        {
            var at = next[keys[i]]++;
            sortedKeys[at] = keys[i];
            sortedItems[at] = items[i];
        }

        sortedKeys.CopyTo(keys, 0);
        sortedItems.CopyTo(items, 0);
    }
}
