namespace Shaper.Netlink;

/// <summary>
/// Netlink and nfnetlink constants and sizes, from the kernel's <c>include/uapi/linux/netlink.h</c>,
/// <c>include/uapi/linux/netfilter/nfnetlink.h</c> and <c>include/uapi/linux/netfilter/nf_tables.h</c>.
/// </summary>
internal static class Nl
{
    /// <summary>struct nlmsghdr.</summary>
    public const int HeaderLength = 16;

    /// <summary>struct nfgenmsg, after the netlink header of every nfnetlink message.</summary>
    public const int NfgenLength = 4;

    /// <summary>struct nlattr.</summary>
    public const int AttributeHeaderLength = 4;

    public const ushort Request = 0x1;
    public const ushort Multi = 0x2;
    public const ushort Ack = 0x4;
    public const ushort Echo = 0x8;
    public const ushort Dump = 0x300; // NLM_F_ROOT | NLM_F_MATCH
    public const ushort Replace = 0x100;
    public const ushort Excl = 0x200;
    public const ushort Create = 0x400;

    public const ushort Noop = 1;
    public const ushort Error = 2;
    public const ushort Done = 3;
    public const ushort Overrun = 4;

    /// <summary>NLA_F_NESTED; NLA_F_NET_BYTEORDER is the other flag bit of an attribute type.</summary>
    public const ushort Nested = 0x8000;
    public const ushort TypeMask = 0x3fff;

    public const ushort BatchBegin = 0x10; // NFNL_MSG_BATCH_BEGIN
    public const ushort BatchEnd = 0x11; // NFNL_MSG_BATCH_END
    public const ushort BatchGenId = 1; // NFNL_BATCH_GENID, in the begin message

    public const int NetlinkNetfilter = 12;

    /// <summary>Rounds a length up to the 4-byte alignment of messages and attributes.</summary>
    public static int Align(int length) => (length + 3) & ~3;
}
