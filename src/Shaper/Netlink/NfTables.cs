namespace Shaper.Netlink;

/// <summary>
/// nftables message types and attribute numbers used here, from the kernel's
/// <c>include/uapi/linux/netfilter/nf_tables.h</c> (messages are <c>NFNL_SUBSYS_NFTABLES &lt;&lt; 8 | NFT_MSG_*</c>).
/// </summary>
internal static class NfTables
{
    /// <summary>NFNL_SUBSYS_NFTABLES: the resource id of a batch and the high byte of a message type.</summary>
    public const ushort Subsystem = 10;

    /// <summary>NFNLGRP_NFTABLES: the multicast group of nftables' change notifications.</summary>
    public const int Group = 7;

    /// <summary>NFPROTO_INET.</summary>
    public const byte FamilyInet = 1;

    public const byte NewTable = 0;
    public const byte GetTable = 1;
    public const byte DelTable = 2;
    public const byte NewChain = 3;
    public const byte GetChain = 4;
    public const byte DelChain = 5;
    public const byte NewRule = 6;
    public const byte GetRule = 7;
    public const byte DelRule = 8;
    public const byte NewSet = 9;
    public const byte GetSet = 10;
    public const byte DelSet = 11;
    public const byte NewSetElem = 12;
    public const byte GetSetElem = 13;
    public const byte DelSetElem = 14;

    /// <summary>NFT_MSG_DESTROYSETELEM (Linux 6.3): a delete that is no error when the element is already gone.</summary>
    public const byte DestroySetElem = 30;
    public const byte NewGen = 15;
    public const byte GetGen = 16;
    public const byte NewObj = 18;
    public const byte GetObj = 19;
    public const byte DelObj = 20;

    // NFTA_TABLE_*, NFTA_CHAIN_*, NFTA_RULE_*, NFTA_SET_*: the table is attribute 1 and the object's name 2 or 3.
    public const ushort TableName = 1;
    public const ushort ChainTable = 1;
    public const ushort ChainName = 3;
    public const ushort RuleTable = 1;
    public const ushort RuleChain = 2;
    public const ushort SetTable = 1;
    public const ushort SetName = 2;
    public const ushort SetFlags = 3;
    public const uint SetAnonymous = 1;
    public const ushort ObjTable = 1;
    public const ushort ObjName = 2;
    public const ushort ObjType = 3;
    public const ushort ObjData = 4;

    public const ushort SetElemListTable = 1;
    public const ushort SetElemListSet = 2;
    public const ushort SetElemListElements = 3;
    public const ushort ListElem = 1;
    public const ushort SetElemKey = 1;
    public const ushort SetElemTimeout = 4;
    public const ushort SetElemExpiration = 5;
    public const ushort DataValue = 1;

    public const ushort GenId = 1;
    public const ushort GenProcPid = 2;
    public const ushort GenProcName = 3;

    public const uint ObjectCounter = 1;
    public const uint ObjectLimit = 4;
    public const ushort CounterPackets = 2;

    /// <summary>The full message type of nftables command <paramref name="command"/>.</summary>
    public static ushort Type(byte command) => (ushort)((Subsystem << 8) | command);

    /// <summary>True for a message about the inet table <paramref name="table"/> (the table is attribute 1 of every object message).</summary>
    public static bool IsAboutInetTable(in NetlinkMessage message, string table) =>
        message.Family == FamilyInet && message.Attributes.TryFind(TableName, out var name) && name.IsString(table);
}
