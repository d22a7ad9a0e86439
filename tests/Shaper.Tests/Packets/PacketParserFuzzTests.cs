using Shaper.Packets;

namespace Shaper.Tests.Packets;

/// <summary>
/// The parser never throws and always accounts for a frame: random bytes, and valid frames of every link type
/// (from <see cref="ReferenceFrames"/>) with bytes flipped, overwritten, cut and extended, from a fixed seed.
/// </summary>
public sealed class PacketParserFuzzTests
{
    /// <summary>Frames of each sort per run; the issue asks for at least 100,000 in all.</summary>
    private const int FramesPerSort = 60_000;

    private static readonly LinkKind[] Links = [LinkKind.Ethernet, LinkKind.LinuxSll, LinkKind.LinuxSll2, LinkKind.RawIp];

    [Fact]
    public void Parse_RandomFrames_NeverThrowsAndCountersAddUp()
    {
        var rng = new Random(20261123);
        var counters = new ParseCounters();
        var tally = new long[4];
        var buffer = new byte[300];
        for (var i = 0; i < FramesPerSort; i++)
        {
            var frame = buffer.AsSpan(0, rng.Next(buffer.Length));
            rng.NextBytes(frame);
            if (i % 2 == 0 && frame.Length > 20)
            {
                // Plausible starts reach deeper than pure noise: an IP version nibble, a known EtherType.
                frame[0] = (byte)((rng.Next(2) == 0 ? 0x40 : 0x60) | (frame[0] & 0x0F));
                frame[12] = rng.Next(2) == 0 ? (byte)0x08 : (byte)0x86;
                frame[13] = frame[12] == 0x08 ? (byte)0x00 : (byte)0xDD;
            }

            var result = Parse(frame, Links[i % Links.Length]);
            counters.Record(result);
            tally[(int)result]++;
        }

        AssertCounted(counters, tally, FramesPerSort);
    }

    [Fact]
    public void Parse_MutatedValidFrames_NeverThrowsAndCountersAddUp()
    {
        var rng = new Random(1123);
        var pool = ValidFrames(rng);
        var counters = new ParseCounters();
        var tally = new long[4];
        for (var i = 0; i < FramesPerSort; i++)
        {
            var (link, valid) = pool[rng.Next(pool.Count)];
            var frame = Mutate(rng, valid);
            var result = Parse(frame, link);
            counters.Record(result);
            tally[(int)result]++;
        }

        AssertCounted(counters, tally, FramesPerSort);

        // Mutations of IP frames must still reach every outcome, or they are too timid to test anything.
        Assert.All(tally, count => Assert.True(count > 0, $"an outcome never occurred: {counters}"));
    }

    [Fact]
    public void Parse_EveryPrefixOfAValidFrame_IsOkOrTruncated()
    {
        // A capture cut by the snap length is never "malformed": what is there is consistent.
        var rng = new Random(42);
        var frames = 0;
        foreach (var (link, valid) in ValidFrames(rng))
        {
            Assert.Equal(ParseResult.Ok, Parse(valid, link));
            for (var length = 0; length < valid.Length; length++)
            {
                var result = Parse(valid.AsSpan(0, length), link);
                Assert.True(result is ParseResult.Ok or ParseResult.Truncated, $"{link} frame cut at {length} of {valid.Length}: {result}, {Convert.ToHexString(valid)}");
                frames++;
            }
        }

        Assert.True(frames > 10_000, $"{frames} prefixes");
    }

    /// <summary>Parses and checks the contract: a frame that is not Ok leaves every field zero; an Ok one has a family.</summary>
    private static ParseResult Parse(ReadOnlySpan<byte> frame, LinkKind link)
    {
        var result = PacketParser.Parse(frame, link, out var meta);
        Assert.True(Enum.IsDefined(result), $"result {result}");
        if (result == ParseResult.Ok)
        {
            Assert.NotEqual(IpFamily.None, meta.Family);
            Assert.True(meta.IpLength >= 20, $"IP length {meta.IpLength}");
        }
        else
        {
            Assert.Equal(default, ParsedFields.From(ParseResult.Ok, meta) with { Result = default });
        }

        return result;
    }

    private static void AssertCounted(ParseCounters counters, long[] tally, long frames)
    {
        Assert.Equal(frames, counters.Total);
        Assert.Equal(frames - tally[(int)ParseResult.Ok], counters.Skipped);
        foreach (var result in Enum.GetValues<ParseResult>())
        {
            Assert.Equal(tally[(int)result], counters[result]);
        }
    }

    private static List<(LinkKind Link, byte[] Frame)> ValidFrames(Random rng)
    {
        var frames = new List<(LinkKind, byte[])>();
        for (var i = 0; i < 4 * ReferenceFrames.IpKinds; i++)
        {
            var ip = ReferenceFrames.IpPacket(rng, i % ReferenceFrames.IpKinds);
            var vlan = (ushort)rng.Next(1, 4095);
            frames.Add((LinkKind.RawIp, ip));
            frames.Add((LinkKind.Ethernet, ReferenceFrames.Ethernet(rng, ip)));
            frames.Add((LinkKind.Ethernet, ReferenceFrames.Ethernet(rng, ip, (0x8100, vlan))));
            frames.Add((LinkKind.Ethernet, ReferenceFrames.Ethernet(rng, ip, (0x88A8, vlan), (0x8100, vlan))));
            frames.Add((LinkKind.LinuxSll, ReferenceFrames.LinuxSll(rng, ip)));
            frames.Add((LinkKind.LinuxSll2, ReferenceFrames.LinuxSll2(rng, ip)));
        }

        return frames;
    }

    private static byte[] Mutate(Random rng, byte[] valid)
    {
        var frame = (byte[])valid.Clone();
        switch (rng.Next(5))
        {
            case 0: // flip a few bits
                for (var n = rng.Next(1, 4); n > 0; n--)
                {
                    frame[rng.Next(frame.Length)] ^= (byte)(1 << rng.Next(8));
                }

                return frame;
            case 1: // overwrite a byte in the first 80, where the headers are
                frame[rng.Next(Math.Min(80, frame.Length))] = (byte)rng.Next(256);
                return frame;
            case 2: // cut anywhere
                return frame[..rng.Next(frame.Length + 1)];
            case 3: // link padding or trailing garbage
                var longer = new byte[frame.Length + rng.Next(1, 64)];
                frame.CopyTo(longer, 0);
                rng.NextBytes(longer.AsSpan(frame.Length));
                return longer;
            default: // a length field or header length set to anything
                var at = rng.Next(Math.Min(64, frame.Length - 1));
                frame[at] = (byte)rng.Next(256);
                frame[at + 1] = (byte)rng.Next(256);
                return frame;
        }
    }
}
