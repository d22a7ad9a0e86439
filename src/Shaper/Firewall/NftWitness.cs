using Shaper.Netlink;

namespace Shaper.Firewall;

/// <summary>
/// Watches the ruleset from the daemon's first moment until its kernel start, so that the commits made meanwhile
/// (the feature probe's own iptables chain, another table's) need not cost the restart its shortcut: it joins
/// nftables' notification group, then reads the generation; <see cref="Conclude"/> later reads every notification
/// since. Each committed transaction ends with a NEWGEN notification carrying its generation, so when they come one
/// after another from the first generation on, none was lost (no ENOBUFS) and not one message named the table, the
/// table is as it was at the first generation, whatever the others committed.
/// </summary>
public sealed class NftWitness : IDisposable
{
    private readonly NetlinkSocket _socket;
    private readonly string _table;
    private readonly byte[] _buffer = new byte[1 << 16];

    private NftWitness(NetlinkSocket socket, string table, uint generation)
    {
        _socket = socket;
        _table = table;
        Started = generation;
    }

    /// <summary>The generation when it started watching.</summary>
    public uint Started { get; }

    /// <summary>Starts watching the inet <paramref name="table"/> in the caller's network namespace; null when netlink cannot.</summary>
    public static NftWitness? TryOpen(string table)
    {
        if (NetlinkSocket.TryOpen() is not { } socket)
        {
            return null;
        }

        socket.SetBuffers(1 << 16, 4 << 20);
        using var netlink = NftNetlink.TryOpen(table);
        if (!socket.Join(NfTables.Group) || netlink?.Generation() is not { } generation)
        {
            socket.Dispose();
            return null;
        }

        return new NftWitness(socket, table, generation);
    }

    /// <summary>
    /// The generation the ruleset reached with the table untouched since <see cref="Started"/>, by the notifications
    /// read now; null when one named the table, some were lost, or a generation was skipped. Once only: it stops watching.
    /// </summary>
    public uint? Conclude()
    {
        var generation = Started;
        try
        {
            while (true)
            {
                var received = _socket.Receive(_buffer, wait: false);
                if (received == 0)
                {
                    return generation;
                }

                if (received < 0)
                {
                    return null; // ENOBUFS: notifications were lost
                }

                var messages = new NetlinkMessageEnumerator(_buffer.AsSpan(0, received));
                while (messages.MoveNext())
                {
                    var message = messages.Current;
                    if (message.Subsystem != NfTables.Subsystem)
                    {
                        continue;
                    }

                    if (message.Command == NfTables.NewGen)
                    {
                        if (!message.Attributes.TryFind(NfTables.GenId, out var id) || id.UInt32BigEndian != NftNetlink.NextGeneration(generation))
                        {
                            return null;
                        }

                        generation = id.UInt32BigEndian;
                    }
                    else if (NfTables.IsAboutInetTable(message, _table))
                    {
                        return null;
                    }
                }
            }
        }
        finally
        {
            _socket.Dispose();
        }
    }

    /// <inheritdoc />
    public void Dispose() => _socket.Dispose();
}
