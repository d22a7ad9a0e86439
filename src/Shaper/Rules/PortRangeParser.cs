using System.Globalization;

namespace Shaper.Rules;

/// <summary>Parses one port or an inclusive range <c>"a-b"</c>; ports are 1 to 65535.</summary>
internal static class PortRangeParser
{
    private const string Hint = "write a port from 1 to 65535 or a range \"first-last\", e.g. 22 or \"8000-8080\"";

    public static bool TryParse(long port, out PortRange range, out ValueError error)
    {
        range = default;
        if (port is < 1 or > 65535)
        {
            error = new ValueError($"port {port} is out of range", Hint);
            return false;
        }

        range = new PortRange((ushort)port, (ushort)port);
        error = default;
        return true;
    }

    public static bool TryParse(string text, out PortRange range, out ValueError error)
    {
        range = default;
        var dash = text.IndexOf('-', StringComparison.Ordinal);
        var firstText = (dash < 0 ? text : text[..dash]).Trim();
        var lastText = (dash < 0 ? text : text[(dash + 1)..]).Trim();
        if (!TryPort(firstText, out var first) || !TryPort(lastText, out var last))
        {
            error = new ValueError($"'{text}' is not a port or port range", Hint);
            return false;
        }

        if (first is < 1 or > 65535 || last is < 1 or > 65535)
        {
            error = new ValueError($"port range '{text}' goes outside 1-65535", Hint);
            return false;
        }

        if (first > last)
        {
            error = new ValueError($"port range '{text}' ends before it starts", $"write \"{last}-{first}\"");
            return false;
        }

        range = new PortRange((ushort)first, (ushort)last);
        error = default;
        return true;
    }

    private static bool TryPort(string text, out int port)
    {
        port = 0;
        return text.Length is > 0 and <= 6
            && text.All(char.IsAsciiDigit)
            && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port);
    }
}
