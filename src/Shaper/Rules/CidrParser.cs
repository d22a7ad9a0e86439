using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Shaper.Rules;

/// <summary>
/// Strict IPv4/IPv6 addresses and CIDRs. <see cref="IPAddress.TryParse(string, out IPAddress)"/> alone is
/// too lenient for rules that become nft text (it takes "10.1" as 10.0.0.1 and "0x7f.1" as 127.0.0.1, and
/// nft itself resolves anything that is not an address through DNS): IPv4 here is exactly four decimal
/// octets without leading zeros, IPv6 is hex groups and colons (an embedded dotted IPv4 tail allowed),
/// never a zone (<c>%eth0</c>), never a host name.
/// <para>A bare address is a single host (/32 or /128). A CIDR with host bits set (<c>10.0.0.1/8</c>)
/// is an error, not silently masked: it names a host and a network at once, and guessing the
/// network would widen an <c>[[allow]]</c> entry or a rule's reach without anyone asking for it.</para>
/// </summary>
internal static class CidrParser
{
    private const string Examples = "write an IPv4 or IPv6 address or CIDR, e.g. \"192.0.2.0/24\", \"198.51.100.7\" or \"2001:db8::/32\"";

    public static bool TryParse(string text, out IPNetwork network, out ValueError error)
    {
        network = default;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var addressText = slash < 0 ? text : text[..slash];
        if (!TryParseAddress(addressText, out var address))
        {
            var looksLikeName = addressText.Length > 0 && addressText.Any(char.IsAsciiLetter) && !addressText.Contains(':', StringComparison.Ordinal);
            error = new ValueError(
                $"'{text}' is not an IP address or CIDR",
                looksLikeName ? $"host names are never resolved; {Examples}" : Examples);
            return false;
        }

        var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var prefix = bits;
        if (slash >= 0)
        {
            var prefixText = text[(slash + 1)..];
            if (!IsPlainNumber(prefixText) || !int.TryParse(prefixText, NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > bits)
            {
                error = new ValueError($"'{text}' has a bad prefix length '/{prefixText}'", $"an {(bits == 32 ? "IPv4" : "IPv6")} prefix is a whole number from 0 to {bits}");
                return false;
            }
        }

        var masked = Mask(address, prefix);
        if (!masked.Equals(address))
        {
            error = new ValueError(
                $"'{text}' has host bits set",
                $"write \"{masked}/{prefix}\" for the network or \"{address}/{bits}\" for the host");
            return false;
        }

        network = new IPNetwork(masked, prefix);
        error = default;
        return true;
    }

    /// <summary>A strict address: dotted-quad IPv4 or IPv6 without a zone.</summary>
    public static bool TryParseAddress(string text, [NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        if (text.Length is 0 or > 45)
        {
            return false;
        }

        if (text.Contains(':', StringComparison.Ordinal))
        {
            foreach (var c in text)
            {
                if (!char.IsAsciiHexDigit(c) && c != ':' && c != '.')
                {
                    return false;
                }
            }

            return IPAddress.TryParse(text, out address) && address.AddressFamily == AddressFamily.InterNetworkV6;
        }

        var parts = text.Split('.');
        if (parts.Length != 4)
        {
            return false;
        }

        var bytes = new byte[4];
        for (var i = 0; i < 4; i++)
        {
            if (!IsPlainNumber(parts[i]) || parts[i].Length > 3 || !byte.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out bytes[i]))
            {
                return false;
            }
        }

        address = new IPAddress(bytes);
        return true;
    }

    /// <summary>True when <paramref name="inner"/> lies entirely inside <paramref name="outer"/> (same family).</summary>
    public static bool Covers(IPNetwork outer, IPNetwork inner) =>
        outer.BaseAddress.AddressFamily == inner.BaseAddress.AddressFamily
        && outer.PrefixLength <= inner.PrefixLength
        && outer.Contains(inner.BaseAddress);

    private static IPAddress Mask(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }

        return new IPAddress(bytes);
    }

    /// <summary>Digits only, and no leading zero unless the number is 0 (nft and inet_aton read "010" differently).</summary>
    private static bool IsPlainNumber(string text) =>
        text.Length > 0 && text.All(char.IsAsciiDigit) && (text.Length == 1 || text[0] != '0');
}
