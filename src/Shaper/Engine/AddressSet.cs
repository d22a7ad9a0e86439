using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Shaper.Packets;

namespace Shaper.Engine;

/// <summary>
/// A set of IPv4 and IPv6 CIDRs compiled to sorted, merged address intervals. A lookup is a binary
/// search, so its cost grows with the logarithm of the number of CIDRs, not linearly; overlapping and
/// adjacent CIDRs merge into one interval. Addresses use <see cref="PacketMeta"/>'s encoding.
/// </summary>
internal sealed class AddressSet
{
    private readonly uint[] _v4Starts;
    private readonly uint[] _v4Ends;
    private readonly UInt128[] _v6Starts;
    private readonly UInt128[] _v6Ends;

    public AddressSet(IEnumerable<IPNetwork> networks)
    {
        var v4 = new List<(uint Start, uint End)>();
        var v6 = new List<(UInt128 Start, UInt128 End)>();
        foreach (var network in networks)
        {
            var prefix = network.PrefixLength;
            if (network.BaseAddress.AddressFamily == AddressFamily.InterNetwork)
            {
                var start = ToV4(network.BaseAddress) & Mask4(prefix);
                v4.Add((start, start | ~Mask4(prefix)));
            }
            else if (network.BaseAddress.IsIPv4MappedToIPv6 && prefix >= 96)
            {
                var start = ToV4(network.BaseAddress.MapToIPv4()) & Mask4(prefix - 96);
                v4.Add((start, start | ~Mask4(prefix - 96)));
            }
            else
            {
                var start = ToV6(network.BaseAddress) & Mask6(prefix);
                v6.Add((start, start | ~Mask6(prefix)));
            }
        }

        (_v4Starts, _v4Ends) = Merge(v4, static end => end == uint.MaxValue ? end : end + 1);
        (_v6Starts, _v6Ends) = Merge(v6, static end => end == UInt128.MaxValue ? end : end + 1);
        Count = _v4Starts.Length + _v6Starts.Length;
    }

    /// <summary>Merged intervals held.</summary>
    public int Count { get; }

    /// <summary>True when no CIDR was given.</summary>
    public bool IsEmpty => Count == 0;

    public bool Contains(IpFamily family, UInt128 address) =>
        family == IpFamily.V4 ? Contains(_v4Starts, _v4Ends, (uint)address) : Contains(_v6Starts, _v6Ends, address);

    public static uint Mask4(int prefix) => prefix <= 0 ? 0 : uint.MaxValue << (32 - Math.Min(prefix, 32));

    public static UInt128 Mask6(int prefix) => prefix <= 0 ? UInt128.Zero : UInt128.MaxValue << (128 - Math.Min(prefix, 128));

    public static uint ToV4(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }

    public static UInt128 ToV6(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        return BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }

    private static bool Contains<T>(T[] starts, T[] ends, T value)
        where T : struct, IComparable<T>
    {
        // The last interval starting at or before value is the only candidate.
        int lo = 0, hi = starts.Length - 1, found = -1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            if (starts[mid].CompareTo(value) <= 0)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return found >= 0 && ends[found].CompareTo(value) >= 0;
    }

    private static (T[] Starts, T[] Ends) Merge<T>(List<(T Start, T End)> intervals, Func<T, T> next)
        where T : struct, IComparable<T>
    {
        intervals.Sort((a, b) => a.Start.CompareTo(b.Start));
        var starts = new List<T>();
        var ends = new List<T>();
        foreach (var (start, end) in intervals)
        {
            if (ends.Count > 0 && start.CompareTo(next(ends[^1])) <= 0)
            {
                if (end.CompareTo(ends[^1]) > 0)
                {
                    ends[^1] = end;
                }
            }
            else
            {
                starts.Add(start);
                ends.Add(end);
            }
        }

        return ([.. starts], [.. ends]);
    }
}
