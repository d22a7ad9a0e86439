using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Shaper.Rules;

namespace Shaper.Control;

/// <summary>
/// The address or CIDR of <c>block add</c> and <c>block del</c>, read by the same strict parser as the
/// configuration's CIDRs (<see cref="CidrParser"/>), by shaperctl before it sends and by the daemon when it
/// receives: four decimal octets or IPv6 groups, never <c>10.1</c>, <c>0x7f.1</c> or <c>4294967295</c>; host bits
/// set are an error naming the network and the host forms. An IPv4-mapped IPv6 address (<c>::ffff:a.b.c.d</c>) is
/// refused with its IPv4 form: IPv4 packets are matched by the IPv4 sets, so blocking the mapped form would
/// either do nothing or, as <c>::ffff:0.0.0.0/96</c> once did, stand for all of IPv4. A block wider than
/// <see cref="WidestV4"/> (IPv4) or <see cref="WidestV6"/> (IPv6) needs <c>force</c>.
/// </summary>
internal static class BlockAddress
{
    /// <summary>The widest IPv4 prefix blocked without <c>--force</c>.</summary>
    public const int WidestV4 = 8;

    /// <summary>The widest IPv6 prefix blocked without <c>--force</c>.</summary>
    public const int WidestV6 = 32;

    /// <summary>Parses <paramref name="text"/> for <c>block add</c> (<paramref name="adding"/>, where width matters) or <c>block del</c>.</summary>
    public static bool TryParse(string? text, bool adding, bool force, out IPNetwork network, out string error)
    {
        network = default;
        error = "";
        if (string.IsNullOrEmpty(text))
        {
            error = "give an address or CIDR, e.g. 198.18.0.1 or 198.18.0.0/24";
            return false;
        }

        if (!CidrParser.TryParse(text, out var parsed, out var parseError))
        {
            error = $"{parseError.Message}; {parseError.Hint}";
            return false;
        }

        // Inside ::ffff:0:0/96 (IPNetwork.Contains reads a mapped address as IPv4, so the test is by hand).
        if (parsed.PrefixLength >= 96 && parsed.BaseAddress.IsIPv4MappedToIPv6)
        {
            var v4 = parsed.BaseAddress.MapToIPv4();
            var prefix = parsed.PrefixLength - 96;
            error = $"'{text}' is an IPv4-mapped IPv6 {(prefix == 32 ? "address" : "network")}; write its IPv4 form {(prefix == 32 ? v4.ToString() : $"{v4}/{prefix}")}";
            return false;
        }

        var v4Family = parsed.BaseAddress.AddressFamily == AddressFamily.InterNetwork;
        var widest = v4Family ? WidestV4 : WidestV6;
        if (adding && !force && parsed.PrefixLength < widest)
        {
            error = string.Create(
                CultureInfo.InvariantCulture,
                $"'{text}' is wider than /{widest} ({Size(parsed)} addresses); add --force to block it anyway");
            return false;
        }

        network = parsed;
        return true;
    }

    /// <summary>
    /// The <c>[[allow]]</c> networks a block of <paramref name="network"/> touches. When one of them holds the
    /// whole block, <paramref name="inside"/> is that one: the block would do nothing and is refused. Otherwise the
    /// result lists the allowed networks inside the block: they stay exempt, as the kernel accepts allowed
    /// sources before it looks at any block set.
    /// </summary>
    public static IReadOnlyList<IPNetwork> AllowedWithin(IPNetwork network, IReadOnlyList<IPNetwork> allow, out IPNetwork? inside)
    {
        ArgumentNullException.ThrowIfNull(allow);
        inside = null;
        var exempt = new List<IPNetwork>();
        foreach (var allowed in allow)
        {
            if (CidrParser.Covers(allowed, network))
            {
                inside = allowed;
                return [];
            }

            if (CidrParser.Covers(network, allowed))
            {
                exempt.Add(allowed);
            }
        }

        return exempt;
    }

    private static string Size(IPNetwork network)
    {
        var bits = (network.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? 32 : 128) - network.PrefixLength;
        return bits <= 32 ? (1UL << bits).ToString("N0", CultureInfo.InvariantCulture) : $"2^{bits}";
    }
}
