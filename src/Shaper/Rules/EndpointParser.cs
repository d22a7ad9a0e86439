using System.Globalization;
using System.Net;

namespace Shaper.Rules;

/// <summary>Strict <c>address:port</c> for listeners: <c>127.0.0.1:9477</c> or <c>[::1]:9477</c>, never a host name.</summary>
internal static class EndpointParser
{
    public static bool TryParse(string text, out IPEndPoint? endpoint)
    {
        endpoint = null;
        string host;
        string port;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf("]:", StringComparison.Ordinal);
            if (close < 0)
            {
                return false;
            }

            host = text[1..close];
            port = text[(close + 2)..];
            if (!host.Contains(':', StringComparison.Ordinal))
            {
                return false;
            }
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon < 0)
            {
                return false;
            }

            host = text[..colon];
            port = text[(colon + 1)..];
            if (host.Contains(':', StringComparison.Ordinal))
            {
                return false;
            }
        }

        if (!CidrParser.TryParseAddress(host, out var address)
            || port.Length is 0 or > 5
            || !port.All(char.IsAsciiDigit)
            || !int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
            || number is < 1 or > 65535)
        {
            return false;
        }

        endpoint = new IPEndPoint(address, number);
        return true;
    }
}
