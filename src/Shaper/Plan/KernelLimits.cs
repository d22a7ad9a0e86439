using Shaper.Limiting;
using Shaper.Rules;

namespace Shaper.Plan;

/// <summary>
/// The largest bucket each kernel backend accepts for a rate, so that the validator refuses exactly what the
/// kernel would (a refused ruleset makes the daemon exit at start).
/// <list type="bullet">
/// <item>nftables (<c>nft_limit_init</c> in net/netfilter/nft_limit.c): the rate goes in as a whole amount per unit of
/// seconds, <c>nsecs = unit × 10⁹</c>. A packet bucket holds <c>(nsecs / rate) × burst</c> tokens, a byte bucket
/// <c>nsecs × (rate + burst) / rate</c>; either product overflowing 64 bits is refused with EOVERFLOW. Measured in a
/// namespace: 1/day holds at most 213,503, 1/hour 5,124,095, 1/minute 307,445,734 packets; 1 kbytes/hour at most
/// 5,123,071 bytes; 1 mbytes/day no burst at all.</item>
/// <item>iptables (<c>hashlimit_mt_check_common</c> in net/netfilter/xt_hashlimit.c): <c>--hashlimit-burst</c> takes
/// 1 to 1,000,000, and the kernel keeps the bucket as credits, <c>avg × burst × (HZ × CREDITS_PER_JIFFY / 10⁶)</c> in 64
/// bits, where <c>avg</c> is the period of one packet in microseconds and <c>CREDITS_PER_JIFFY</c> the largest power of
/// two with a day of jiffies' credits in 64 bits: a bucket of about a day and a half of the rate at most. A product
/// that wraps is refused when the wrapped value is below one packet's credits, and otherwise taken with the wrapped,
/// wrong bucket; both are refused here. Measured at HZ = 250: 1/day holds 1 packet, 3/day 4, 1/hour 37, 10/minute 22,369
/// (22,370 refused, 22,371 taken wrapped).</item>
/// </list>
/// </summary>
public static class KernelLimits
{
    /// <summary>The most packets iptables' <c>--hashlimit-burst</c> option takes, at any rate.</summary>
    public const long HashlimitBurstOption = 1_000_000;

    /// <summary>hashlimit's unit of <c>avg</c>: a packet's period is kept in millionths of a second (<c>XT_HASHLIMIT_SCALE_v2</c>).</summary>
    private const ulong HashlimitScale = 1_000_000;

    /// <summary>The kernel's tick rate (<c>CONFIG_HZ</c>), which hashlimit's credits depend on: one jiffy is the resolution of <c>CLOCK_MONOTONIC_COARSE</c>.</summary>
    public static int KernelHz { get; } = ReadKernelHz();

    private const long NsPerSecond = 1_000_000_000L;
    private static readonly UInt128 U64Max = ulong.MaxValue;

    /// <summary>The rate as nft writes it: a whole amount per second, minute, hour or day (the first that is whole); null when there is none.</summary>
    public static (long Amount, long UnitSeconds, string Unit)? NftRate(Rate rate)
    {
        foreach (var (name, seconds) in new[] { ("second", 1L), ("minute", 60L), ("hour", 3600L), ("day", 86_400L) })
        {
            var scaled = (Int128)rate.Amount * seconds * NsPerSecond;
            if (scaled % rate.PeriodNs == 0)
            {
                var amount = scaled / rate.PeriodNs;
                return amount > long.MaxValue ? null : ((long)amount, seconds, name);
            }
        }

        return null;
    }

    /// <summary>The largest burst nftables accepts with <paramref name="rate"/>: 0 when none does; null when the rate is not one nft can write.</summary>
    public static long? MaxNftBurst(RateSpec rate)
    {
        ArgumentNullException.ThrowIfNull(rate);
        if (NftRate(rate.Rate) is not { } written)
        {
            return null;
        }

        UInt128 nsecs = (UInt128)written.UnitSeconds * NsPerSecond;
        UInt128 amount = (ulong)written.Amount;
        UInt128 max;
        if (rate.Unit == RateUnit.Packets)
        {
            // tokens = (nsecs / rate) × burst must fit in 64 bits.
            var perToken = nsecs / amount;
            max = perToken == 0 ? uint.MaxValue : U64Max / perToken;
        }
        else
        {
            // nsecs × (rate + burst) must fit in 64 bits.
            var sum = U64Max / nsecs;
            max = sum > amount ? sum - amount : 0;
        }

        return (long)UInt128.Min(max, uint.MaxValue);
    }

    /// <summary>
    /// The largest burst iptables' hashlimit keeps whole with packet rate <paramref name="rate"/> (as the iptables backend
    /// writes it) on a kernel of <paramref name="hz"/> ticks a second: at most <see cref="HashlimitBurstOption"/>, and no
    /// more than the kernel's credits hold without wrapping; null for a byte rate or one hashlimit cannot write.
    /// </summary>
    public static long? MaxHashlimitBurst(RateSpec rate, int hz)
    {
        ArgumentNullException.ThrowIfNull(rate);
        if (rate.Unit != RateUnit.Packets || Firewall.IptablesScript.Rate(rate, out _) is not { } text)
        {
            return null;
        }

        // "N/sec", "N/min", "N/hour" or "N/day", as iptables parses it: avg = 10⁶ × seconds of the unit / N, in 64 bits.
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var count = ulong.Parse(text.AsSpan(0, slash), System.Globalization.CultureInfo.InvariantCulture);
        ulong seconds = text[(slash + 1)..] switch { "sec" => 1, "min" => 60, "hour" => 3600, _ => 86_400 };
        var avg = HashlimitScale * seconds / count;
        var perJiffy = ulong.MaxValue / ((ulong)hz * 86_400);
        var creditsPerJiffy = 1UL << (63 - System.Numerics.BitOperations.LeadingZeroCount(perJiffy));
        var factor = (ulong)hz * creditsPerJiffy / HashlimitScale;
        var whole = U64Max / ((UInt128)avg * factor);
        return (long)UInt128.Min(whole, (ulong)HashlimitBurstOption);
    }

    private static int ReadKernelHz()
    {
        unsafe
        {
            var resolution = stackalloc long[2];
            if (OperatingSystem.IsLinux() && Interop.LibC.ClockGetRes(Interop.LibC.ClockMonotonicCoarse, resolution) == 0 && resolution[0] == 0 && resolution[1] > 0)
            {
                return (int)Math.Round(1e9 / resolution[1]);
            }
        }

        return 300; // unknown: the tick rate with the smallest buckets of the common ones (100, 250, 300, 1000)
    }

    /// <summary>Why the kernel backend refuses <paramref name="burst"/> with <paramref name="rate"/>, or null when it takes it.</summary>
    internal static Refusal? BurstRefusal(RateSpec rate, long burst, BackendKind backend, string subject, string field)
    {
        if (backend == BackendKind.Nftables && MaxNftBurst(rate) is { } max && burst > max)
        {
            var unit = rate.Unit == RateUnit.Packets ? "packets" : "bytes";
            return max == 0
                ? new Refusal(
                    "rate",
                    $"rate '{rate.Text}' of {subject} is too fast for its period in nftables: the kernel's bucket of one {NftRate(rate.Rate)!.Value.Unit} overflows whatever the burst",
                    "write the rate per second, e.g. the same amount divided by the seconds in its period")
                : new Refusal(
                    field,
                    $"burst {burst} of {subject} is more than nftables holds at rate '{rate.Text}': the kernel refuses a bucket above {max} {unit} (its token count overflows 64 bits)",
                    $"lower burst to at most {max}, or write the rate over a shorter period");
        }

        if (backend == BackendKind.Iptables && MaxHashlimitBurst(rate, KernelHz) is { } most && burst > most)
        {
            return new Refusal(
                field,
                most < HashlimitBurstOption
                    ? $"burst {burst} of {subject} is more than iptables hashlimit holds at rate '{rate.Text}': its bucket of at most {most} packets would overflow the kernel's 64-bit credit count"
                    : $"burst {burst} of {subject} is more than iptables hashlimit takes (at most {HashlimitBurstOption} packets)",
                most < HashlimitBurstOption
                    ? $"lower burst to at most {most}, write the rate over a shorter period, or set backend = \"nftables\""
                    : $"lower burst to at most {most}, or set backend = \"nftables\"");
        }

        return null;
    }
}
