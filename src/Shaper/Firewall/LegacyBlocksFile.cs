using System.Net;
using System.Text.Json;

namespace Shaper.Firewall;

/// <summary>
/// Reads the JSON block file of earlier versions (<c>{"version":1,"blocks":[{"cidr":…,"expires_unix_ms":…}]}</c>)
/// entry by entry: an entry that is not a CIDR and an expiry this daemon could have written is skipped, never fatal.
/// </summary>
internal static class LegacyBlocksFile
{
    /// <summary>The blocks still in force at <paramref name="now"/>, and how many entries were damaged.</summary>
    public static (List<(IPNetwork Network, DateTimeOffset Until)> Blocks, int Skipped) Read(string path, DateTimeOffset now, long latestExpiryMs)
    {
        var blocks = new List<(IPNetwork, DateTimeOffset)>();
        var skipped = 0;
        JsonDocument document;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            document = JsonDocument.Parse(stream);
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            return (blocks, 1);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("blocks", out var list)
                || list.ValueKind != JsonValueKind.Array)
            {
                return (blocks, 1);
            }

            var nowMs = now.ToUnixTimeMilliseconds();
            foreach (var entry in list.EnumerateArray())
            {
                if (entry.ValueKind == JsonValueKind.Object
                    && entry.TryGetProperty("cidr", out var cidr) && cidr.ValueKind == JsonValueKind.String
                    && IPNetwork.TryParse(cidr.GetString(), out var network)
                    && string.Equals(network.ToString(), cidr.GetString(), StringComparison.OrdinalIgnoreCase) // as the daemon wrote it: no host bits
                    && entry.TryGetProperty("expires_unix_ms", out var expires) && expires.ValueKind == JsonValueKind.Number
                    && expires.TryGetInt64(out var ms) && ms > 0 && ms <= latestExpiryMs)
                {
                    if (ms > nowMs)
                    {
                        blocks.Add((network, DateTimeOffset.FromUnixTimeMilliseconds(ms)));
                    }
                }
                else
                {
                    skipped++;
                }
            }
        }

        return (blocks, skipped);
    }
}
