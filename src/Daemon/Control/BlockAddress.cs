using System.Net;

namespace Shaper.Daemon.Control;

/// <summary>The address or CIDR argument of <c>block.add</c> and <c>block.del</c>.</summary>
internal static class BlockAddress
{
    public static bool TryParse(string? text, out IPNetwork network, out string error)
    {
        network = default;
        error = "";
        if (string.IsNullOrEmpty(text))
        {
            error = "give an address or CIDR, e.g. 198.18.0.1 or 198.18.0.0/24";
            return false;
        }

        if (text.Contains('/') ? IPNetwork.TryParse(text, out network) : TryHost(text, out network))
        {
            return true;
        }

        error = $"'{text}' is not an IP address or CIDR (CIDRs must have no host bits set)";
        return false;
    }

    private static bool TryHost(string text, out IPNetwork network)
    {
        network = default;
        if (!IPAddress.TryParse(text, out var address))
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        network = new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
        return true;
    }
}
