using Shaper.Packets;
using Shaper.Replay;

namespace Shaper.Tests.Replay;

public sealed class CsvReplaySourceTests
{
    private static List<PacketMeta> ReadAll(string csv)
    {
        using var source = new CsvReplaySource(new StringReader(csv), "t.csv");
        var packets = new List<PacketMeta>();
        while (source.TryRead(out var p))
        {
            packets.Add(p);
        }

        return packets;
    }

    [Fact]
    public void TryRead_DesignExampleRow_FillsEveryField()
    {
        var p = ReadAll("time,src,dst,proto,sport,dport,len,flags\n0.000,198.18.1.1,198.18.0.2,tcp,40000,22,60,S\n").Single();
        Assert.Equal((IpFamily.V4, (UInt128)0xC6120101, (UInt128)0xC6120002), (p.Family, p.Source, p.Destination));
        Assert.Equal((6, 40000, 22, 60, TcpFlags.Syn), (p.Protocol, p.SourcePort, p.DestinationPort, p.IpLength, p.TcpFlags));
    }

    [Fact]
    public void TryRead_OnlyRequiredColumns_UsesDesignDefaults()
    {
        var p = ReadAll("time,src\n1.5,2001:db8::1\n").Single();
        Assert.Equal(1_500_000_000, p.TimestampNs);
        Assert.Equal(IpFamily.V6, p.Family);
        Assert.Equal(17, p.Protocol);
        Assert.Equal(64, p.IpLength);
    }

    [Fact]
    public void TryRead_NanosecondFraction_IsExact()
    {
        Assert.Equal(1_000_000_001, ReadAll("time,src\n1.000000001,198.18.0.1\n").Single().TimestampNs);
    }

    [Theory]
    [InlineData("time,src\n0,198.18.0.999\n", "t.csv:2: src '198.18.0.999' is not an IP address")] // never resolved as a hostname
    [InlineData("time,src\n0,198.18.0.1\nx,198.18.0.1\n", "t.csv:3: time 'x' is not a non-negative number of seconds")] // the row number counts the header
    [InlineData("time,src,dport\n0,198.18.0.1,70000\n", "t.csv:2: dport '70000' is not a port (0-65535)")]
    [InlineData("time,src,flags\n0,198.18.0.1,SX\n", "t.csv:2: flags 'SX' holds 'X'; use the letters S A F R P U E C")]
    [InlineData("time,src\n0,198.18.0.1,extra\n", "t.csv:2: 3 fields, the header has 2")]
    [InlineData("time,source\n", "t.csv:1: unknown column 'source'; columns are time,src,dst,proto,sport,dport,len,flags,iface")]
    [InlineData("src\n", "t.csv:1: the header must name the columns 'time' and 'src'")]
    public void TryRead_BadInput_OneLineNamingFileAndRow(string csv, string message)
    {
        var e = Assert.Throws<ReplayInputException>(() => ReadAll(csv));
        Assert.Equal(message, e.Message);
    }
}
