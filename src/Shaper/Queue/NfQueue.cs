namespace Shaper.Queue;

/// <summary>
/// NFQUEUE message types, attributes and values, from the kernel's
/// <c>include/uapi/linux/netfilter/nfnetlink_queue.h</c> and <c>include/uapi/linux/netfilter.h</c>
/// (messages are <c>NFNL_SUBSYS_QUEUE &lt;&lt; 8 | NFQNL_MSG_*</c>).
/// </summary>
internal static class NfQueue
{
    /// <summary>NFNL_SUBSYS_QUEUE.</summary>
    public const ushort Subsystem = 3;

    public const ushort MsgPacket = (Subsystem << 8) | 0; // NFQNL_MSG_PACKET: kernel to user
    public const ushort MsgVerdict = (Subsystem << 8) | 1; // NFQNL_MSG_VERDICT
    public const ushort MsgConfig = (Subsystem << 8) | 2; // NFQNL_MSG_CONFIG

    // enum nfqnl_attr_type
    public const ushort AttrPacketHeader = 1; // struct nfqnl_msg_packet_hdr { __be32 packet_id; __be16 hw_protocol; __u8 hook; }
    public const ushort AttrVerdictHeader = 2; // struct nfqnl_msg_verdict_hdr { __be32 verdict; __be32 id; }
    public const ushort AttrMark = 3; // __be32: in a verdict, the packet's new mark
    public const ushort AttrPayload = 10;
    public const ushort AttrCapLen = 13; // the packet's length when the payload was cut at the copy range

    // enum nfqnl_attr_config
    public const ushort CfgCmd = 1; // struct nfqnl_msg_config_cmd { __u8 command; __u8 _pad; __be16 pf; }
    public const ushort CfgParams = 2; // struct nfqnl_msg_config_params { __be32 copy_range; __u8 copy_mode; } (packed: 5 bytes)
    public const ushort CfgQueueMaxLen = 3;
    public const ushort CfgMask = 4;
    public const ushort CfgFlags = 5;

    // enum nfqnl_msg_config_cmds
    public const byte CmdBind = 1;
    public const byte CmdUnbind = 2;

    /// <summary>NFQNL_COPY_PACKET: the packet's first copy-range bytes come with it.</summary>
    public const byte CopyPacket = 2;

    /// <summary>NFQA_CFG_F_FAIL_OPEN: a full queue accepts the packet instead of dropping it.</summary>
    public const uint FlagFailOpen = 0x1;

    /// <summary>NF_DROP.</summary>
    public const uint Drop = 0;

    /// <summary>NF_ACCEPT.</summary>
    public const uint Accept = 1;

    /// <summary>NF_REPEAT: the packet goes through the hook's table again (with the mark the verdict gave it).</summary>
    public const uint Repeat = 4;
}
