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
/// <item>iptables: <c>--hashlimit-burst</c> takes at most 1,000,000 packets (measured for every rate from 3/day up).</item>
/// </list>
/// </summary>
public static class KernelLimits
{
    /// <summary>The most packets iptables' <c>--hashlimit-burst</c> takes.</summary>
    public const long MaxHashlimitBurst = 1_000_000;

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

        if (backend == BackendKind.Iptables && rate.Unit == RateUnit.Packets && burst > MaxHashlimitBurst)
        {
            return new Refusal(
                field,
                $"burst {burst} of {subject} is more than iptables hashlimit takes (at most {MaxHashlimitBurst} packets)",
                $"lower burst to at most {MaxHashlimitBurst}, or set backend = \"nftables\"");
        }

        return null;
    }
}
