namespace Shaper.Capture;

/// <summary>
/// The classic BPF program a <c>PACKET_FANOUT_CBPF</c> group runs per packet to pick its socket (the kernel takes
/// the program's return value modulo the group's size; packet(7)): a multiplicative hash of the
/// <see cref="FanoutKey"/>'s address bits, read relative to the network header (<c>SKF_NET_OFF</c>, so the link
/// layer does not matter). Anything that is not IPv4 or IPv6 goes to the first socket.
/// </summary>
internal static class FanoutProgram
{
    private const ushort LdAbsByte = 0x30; // BPF_LD | BPF_B | BPF_ABS
    private const ushort LdAbsWord = 0x20; // BPF_LD | BPF_W | BPF_ABS
    private const ushort AndK = 0x54; // BPF_ALU | BPF_AND | BPF_K
    private const ushort RshK = 0x74; // BPF_ALU | BPF_RSH | BPF_K
    private const ushort MulK = 0x24; // BPF_ALU | BPF_MUL | BPF_K
    private const ushort XorX = 0xac; // BPF_ALU | BPF_XOR | BPF_X
    private const ushort Tax = 0x07; // BPF_MISC | BPF_TAX
    private const ushort JeqK = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    private const ushort Ja = 0x05; // BPF_JMP | BPF_JA
    private const ushort RetA = 0x16; // BPF_RET | BPF_A
    private const ushort RetK = 0x06; // BPF_RET | BPF_K
    private const uint NetOffset = 0xFFF00000; // SKF_NET_OFF (-0x100000)
    private const uint Golden = 0x9E3779B1; // Knuth's multiplicative hash constant

    /// <summary>The program for <paramref name="key"/>; a single "return 0" for <see cref="FanoutField.None"/>.</summary>
    public static SockFilter[] Build(FanoutKey key)
    {
        if (key.Field == FanoutField.None)
        {
            return [new(RetK, 0, 0, 0)];
        }

        var v4 = key.Field == FanoutField.Source ? 12u : 16u; // IPv4 source / destination offset
        var v6 = key.Field == FanoutField.Source ? 8u : 24u; // IPv6 source / destination offset
        var program = new List<SockFilter>
        {
            new(LdAbsByte, 0, 0, NetOffset), // 0: version nibble
            new(RshK, 0, 0, 4), // 1
            new(JeqK, 0, 3, 4), // 2: IPv4? else to 6
            new(LdAbsWord, 0, 0, NetOffset + v4), // 3
            new(AndK, 0, 0, Mask(key.V4Prefix, 0)), // 4
            new(Ja, 0, 0, 0), // 5: to hash (patched below)
            new(JeqK, 0, 0, 6), // 6: IPv6? else to return 0 (patched below)
        };
        for (var word = 0; word < 4; word++)
        {
            program.Add(new(LdAbsWord, 0, 0, NetOffset + v6 + (uint)(4 * word)));
            program.Add(new(AndK, 0, 0, Mask(key.V6Prefix, 32 * word)));
            if (word > 0)
            {
                program.Add(new(XorX, 0, 0, 0));
            }

            if (word < 3)
            {
                program.Add(new(Tax, 0, 0, 0));
            }
        }

        var hash = program.Count;
        program.Add(new(MulK, 0, 0, Golden));
        program.Add(new(RshK, 0, 0, 16));
        program.Add(new(RetA, 0, 0, 0));
        var reject = program.Count;
        program.Add(new(RetK, 0, 0, 0));
        program[5] = new(Ja, 0, 0, (uint)(hash - 6));
        program[6] = new(JeqK, 0, (byte)(reject - 7), 6);
        return [.. program];
    }

    /// <summary>The mask of a 32-bit word starting at bit <paramref name="wordStart"/> for the leading <paramref name="prefix"/> bits.</summary>
    private static uint Mask(int prefix, int wordStart)
    {
        var bits = Math.Clamp(prefix - wordStart, 0, 32);
        return bits == 0 ? 0 : uint.MaxValue << (32 - bits);
    }
}
