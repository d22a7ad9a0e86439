using System.Globalization;
using Shaper.Netlink;

namespace Shaper.Firewall;

/// <summary>
/// Listens to nftables' change notifications (netlink group NFNLGRP_NFTABLES, what <c>nft monitor</c> shows) and
/// reports what other processes changed in one table. Each committed transaction ends with a NEWGEN message
/// naming the thread that committed it; changes made by this process's own threads are left out, so the daemon's
/// own blocks and applies cost a read and nothing more. When the socket's buffer overflows (a flush of a very
/// large set, or the daemon's own bulk install), notifications are lost and <see cref="NftChangeKind.Unknown"/> says so.
/// <para>
/// The kernel builds a notification per element while any socket of the host listens (about half of a block
/// batch's commit), so the daemon's own batches can be committed while this one does not listen
/// (<see cref="NftNetlink.ListenedBy"/>): <see cref="Pause"/> and <see cref="Resume"/> bracket them, and a
/// committer that cannot prove no one else committed meanwhile calls <see cref="Missed"/>, which the next
/// <see cref="Drain"/> reports as <see cref="NftChangeKind.Unknown"/> and which ends a <see cref="Wait"/> at once.
/// </para>
/// </summary>
public sealed class NftMonitor : IDisposable
{
    private readonly NetlinkSocket _socket;
    private readonly string _table;
    private readonly byte[] _buffer = new byte[1 << 16];
    private readonly Func<uint, bool> _isOwnThread;
    private NftChanges _pending = new();
    private readonly Dictionary<string, int> _deletedRules = new(StringComparer.Ordinal);
    private readonly HashSet<string> _addedRules = new(StringComparer.Ordinal);
    private readonly Lock _listening = new();
    private readonly Interop.WakeEvent _missed = new();
    private int _paused; // nested pauses; the socket listens at 0; under _listening
    private bool _disposed; // under _listening
    private long _heard = -1; // the generation of the last NEWGEN read, -1 before any

    private NftMonitor(NetlinkSocket socket, string table, Func<uint, bool> isOwnThread)
    {
        _socket = socket;
        _table = table;
        _isOwnThread = isOwnThread;
    }

    /// <summary>
    /// Subscribes in the caller's network namespace to changes of <paramref name="table"/>; null when netlink is
    /// unavailable. <paramref name="isOwnThread"/> tells a thread id of this process (by default: /proc/self/task).
    /// </summary>
    public static NftMonitor? TryOpen(string table, Func<uint, bool>? isOwnThread = null)
    {
        if (NetlinkSocket.TryOpen() is not { } socket)
        {
            return null;
        }

        socket.SetBuffers(1 << 16, 8 << 20);
        if (!socket.Join(NfTables.Group))
        {
            socket.Dispose();
            return null;
        }

        return new NftMonitor(socket, table, isOwnThread ?? IsThreadOfThisProcess);
    }

    /// <summary>Reads every notification waiting, without waiting for more; returns what others changed.</summary>
    public NftChanges Drain()
    {
        var foreign = new NftChanges();
        if (_missed.IsSet)
        {
            _missed.Reset();
            foreign.Kinds.Add(NftChangeKind.Unknown);
            lock (_listening)
            {
                if (_paused == 0)
                {
                    _ = _socket.Rejoin(NfTables.Group); // in case listening again had failed; a member already stays one
                }
            }
        }

        while (true)
        {
            var received = _socket.Receive(_buffer, wait: false);
            if (received == 0)
            {
                return foreign;
            }

            if (received < 0)
            {
                // ENOBUFS: some notifications are lost; a transaction half seen is no longer worth its half.
                foreign.Kinds.Add(NftChangeKind.Unknown);
                ResetPending();
                continue;
            }

            var messages = new NetlinkMessageEnumerator(_buffer.AsSpan(0, received));
            while (messages.MoveNext())
            {
                Read(messages.Current, foreign);
            }
        }
    }

    /// <summary>
    /// Sleeps until a notification can be read (any change to any table, the daemon's own included), until
    /// <paramref name="wake"/> is set, until <see cref="Missed"/> is called, or until <paramref name="timeout"/> has
    /// passed; true when there is something to read.
    /// </summary>
    internal bool Wait(TimeSpan timeout, Interop.WakeEvent wake) => _socket.Wait(timeout.Ticks * 100, wake, _missed) || _missed.IsSet;

    /// <summary>
    /// The generation of the last transaction whose notifications this monitor has read (its NEWGEN comes last), by
    /// anyone, itself included; null before any. Every transaction up to it has been read, or its loss reported
    /// (<see cref="NftChangeKind.Unknown"/>): notifications arrive in the order of the commits.
    /// </summary>
    internal uint? HeardUpTo => Volatile.Read(ref _heard) is >= 0 and var heard ? (uint)heard : null;

    /// <summary>Stops listening until the matching <see cref="Resume"/>; pauses nest, and the outermost pair decides.</summary>
    internal void Pause()
    {
        lock (_listening)
        {
            if (_paused++ == 0)
            {
                _ = _socket.Leave(NfTables.Group); // when leaving fails, it listens on: nothing is lost
            }
        }
    }

    /// <summary>
    /// Listens again once every <see cref="Pause"/> has its <see cref="Resume"/>. What was committed meanwhile is
    /// not heard: the caller vouches for it, or calls <see cref="Missed"/>. Listening again failing counts as missed.
    /// </summary>
    internal void Resume()
    {
        lock (_listening)
        {
            if (--_paused == 0 && !_disposed && !_socket.Rejoin(NfTables.Group))
            {
                Missed();
            }
        }
    }

    /// <summary>Someone else may have changed the ruleset unheard: the next <see cref="Drain"/> reports <see cref="NftChangeKind.Unknown"/>.</summary>
    internal void Missed() => _missed.Set();

    /// <summary>
    /// Runs <paramref name="bulk"/> (the daemon installing every block: a start, a deleted table) without listening:
    /// a million elements make a million notifications, which overflow the socket's buffer, and notifications lost
    /// mean <see cref="NftChangeKind.Unknown"/> and a comparison of every block set. The kernel builds no
    /// notification nobody listens to. What others change meanwhile is not seen either: the caller is installing
    /// everything, and what follows it is heard again.
    /// </summary>
    public T Quietly<T>(Func<T> bulk)
    {
        ArgumentNullException.ThrowIfNull(bulk);
        Pause();
        try
        {
            return bulk();
        }
        finally
        {
            Resume();
        }
    }

    /// <summary>Runs <paramref name="bulk"/> without listening, as <see cref="Quietly{T}(Func{T})"/>.</summary>
    public void Quietly(Action bulk)
    {
        ArgumentNullException.ThrowIfNull(bulk);
        _ = Quietly(() =>
        {
            bulk();
            return 0;
        });
    }

    public void Dispose()
    {
        lock (_listening)
        {
            _disposed = true; // the block installer may still commit its last batches, with nothing to resume
            _socket.Dispose();
            _missed.Dispose();
        }
    }

    private static bool IsThreadOfThisProcess(uint tid) => Directory.Exists("/proc/self/task/" + tid.ToString(CultureInfo.InvariantCulture));

    private void Read(NetlinkMessage message, NftChanges foreign)
    {
        if (message.Subsystem != NfTables.Subsystem)
        {
            return;
        }

        if (message.Command == NfTables.NewGen)
        {
            if (message.Attributes.TryFind(NfTables.GenId, out var id))
            {
                Volatile.Write(ref _heard, id.UInt32BigEndian);
            }

            var pid = message.Attributes.TryFind(NfTables.GenProcPid, out var p) ? p.UInt32BigEndian : 0;
            if (!_isOwnThread(pid))
            {
                foreach (var (chain, deleted) in _deletedRules)
                {
                    _pending.Kinds.Add(deleted > 1 && !_addedRules.Contains(chain) ? NftChangeKind.ChainFlushed : NftChangeKind.RuleChanged);
                }

                if (_addedRules.Count > 0 && _deletedRules.Count == 0)
                {
                    _pending.Kinds.Add(NftChangeKind.RuleChanged);
                }

                if (_pending.Kinds.Contains(NftChangeKind.TableDeleted))
                {
                    // Deleting a table deletes all in it first: one repair, of the table.
                    _pending.Kinds.Clear();
                    _pending.Kinds.Add(NftChangeKind.TableDeleted);
                    _pending.DeletedElements.Clear();
                }

                foreign.Add(_pending);
            }

            ResetPending();
            return;
        }

        if (!IsOurs(message))
        {
            return;
        }

        switch (message.Command)
        {
            case NfTables.DelTable:
                _pending.Kinds.Add(NftChangeKind.TableDeleted);
                break;
            case NfTables.DelChain:
                _pending.Kinds.Add(NftChangeKind.ChainDeleted);
                break;
            case NfTables.NewRule:
                _addedRules.Add(Name(message, NfTables.RuleChain));
                break;
            case NfTables.DelRule:
                var chain = Name(message, NfTables.RuleChain);
                _deletedRules[chain] = _deletedRules.GetValueOrDefault(chain) + 1;
                break;
            case NfTables.NewSet or NfTables.DelSet or NfTables.NewObj or NfTables.DelObj:
                _pending.Kinds.Add(NftChangeKind.ObjectChanged);
                break;
            case NfTables.DelSetElem:
                var set = Name(message, NfTables.SetElemListSet);
                if (BlockSet.Parse(set) is not null)
                {
                    if (!_pending.DeletedElements.TryGetValue(set, out var keys))
                    {
                        _pending.DeletedElements[set] = keys = new HashSet<string>(StringComparer.Ordinal);
                    }

                    NftChange.ReadKeys(message.Attributes, keys);
                }

                break;
        }
    }

    /// <summary>True for a message about the inet table this monitor watches.</summary>
    private bool IsOurs(NetlinkMessage message) => NfTables.IsAboutInetTable(message, _table);

    private static string Name(NetlinkMessage message, ushort attribute) =>
        message.Attributes.TryFind(attribute, out var name) ? name.AsString() : "";

    private void ResetPending()
    {
        _pending = new NftChanges();
        _deletedRules.Clear();
        _addedRules.Clear();
    }
}
