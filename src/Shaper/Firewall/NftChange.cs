using Shaper.Netlink;

namespace Shaper.Firewall;

/// <summary>Reading nftables set-element messages: the element keys of a NEWSETELEM or DELSETELEM.</summary>
internal static class NftChange
{
    /// <summary>Adds the key of every element in a set-element message's attributes to <paramref name="keys"/>, as hex text.</summary>
    public static void ReadKeys(NetlinkAttributeEnumerator attributes, HashSet<string> keys)
    {
        foreach (var attribute in attributes)
        {
            if (attribute.Type != NfTables.SetElemListElements)
            {
                continue;
            }

            foreach (var element in attribute.Nested)
            {
                if (element.Type == NfTables.ListElem && element.Nested.TryFind(NfTables.SetElemKey, out var key)
                    && key.Nested.TryFind(NfTables.DataValue, out var value))
                {
                    keys.Add(Convert.ToHexString(value.Value));
                }
            }
        }
    }

    /// <summary>The hex text of a key, as <see cref="ReadKeys"/> writes it.</summary>
    public static string Hex(ReadOnlySpan<byte> key) => Convert.ToHexString(key);
}
