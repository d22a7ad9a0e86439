using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Shaper.Netlink;

namespace Shaper.Firewall;

/// <summary>
/// The nftables requests the daemon makes often, straight over <c>NETLINK_NETFILTER</c> (messages built and read
/// by <see cref="NetlinkWriter"/> and <see cref="NetlinkMessageEnumerator"/>): block elements added in nfnetlink
/// batches of up to <see cref="ElementsPerTransaction"/> (BEGIN, NEWSETELEM messages of up to
/// <see cref="ElementsPerMessage"/> elements, END), which the kernel commits as one transaction each, exactly
/// what <c>nft add element</c> sends once it has parsed its text (the parse is most of what a block costs in
/// libnftables, about 6 µs an element here); one chain's presence; the named counters; the ruleset generation.
/// Rulesets stay with libnftables. The socket belongs to the network namespace it was opened in.
/// <para>
/// It can also follow the ruleset's generation id (which every committed transaction of any process moves by one,
/// and nothing else: an element's timeout running out is no transaction) through the daemon's own commits, so that
/// the daemon can later prove no one else changed the ruleset: once <see cref="Trust"/> names the generation at
/// which the kernel held what the daemon wants, each batch carries that generation (<c>NFNL_BATCH_GENID</c>: the
/// kernel commits it only if no other transaction came first) and asks the kernel to echo the generation it
/// commits at (<c>NFT_MSG_NEWGEN</c>; none when the batch changed nothing, which leaves the generation as it was),
/// and <see cref="Attributed{T}"/> brackets a commit made through libnftables. Any commit it cannot account for
/// ends the chain (<see cref="Chained"/> null) until the next <see cref="Trust"/>.
/// </para>
/// </summary>
public sealed class NftNetlink : IDisposable
{
    /// <summary>Elements per NEWSETELEM message: its element list is one attribute, whose length is 16 bits.</summary>
    public const int ElementsPerMessage = 1024;

    /// <summary>
    /// Elements per batch (one send, one transaction). The kernel's cost per element grows with the transaction:
    /// a million IPv6 hosts into one set took 1.15-1.34 s of system time in batches of 4,096, 1.61-2.17 s in
    /// batches of 16,384 and 1.84-1.98 s in batches of 65,536 (three rounds of the three, one after another);
    /// 4,096 IPv6 elements take about 210 KB, well within <see cref="SendBuffer"/>.
    /// </summary>
    public const int ElementsPerTransaction = 4096;

    /// <summary>ERESTART: the kernel's answer to a batch whose generation is no longer the ruleset's.</summary>
    private const int Restart = 85;

    /// <summary>The send buffer asked for, so that one send carries a whole batch.</summary>
    public const int SendBuffer = 4 << 20;

    /// <summary>How an error starts when the kernel answered and refused (as opposed to netlink not answering).</summary>
    public const string RefusedPrefix = "the kernel refused the blocks: ";

    private readonly Lock _lock = new(); // one socket, one request at a time
    private readonly NetlinkSocket _socket;
    private readonly string _table;
    private readonly NetlinkWriter _writer = new();
    private readonly byte[] _answer = new byte[1 << 16]; // the kernel's answers, read under the lock
    private uint? _chain; // the generation the daemon's own commits have carried the ruleset to since Trust; under the lock
    private NftMonitor? _listener; // the daemon's own monitor, which does not listen while some batches commit
    private uint? _lastOwn; // the generation this socket's last batch committed at, as the kernel echoed it; under the lock

    private NftNetlink(NetlinkSocket socket, string table)
    {
        _socket = socket;
        _table = table;
    }

    /// <summary>Opens a socket in the caller's network namespace for <paramref name="table"/> (an inet table); null when netlink is unavailable.</summary>
    public static NftNetlink? TryOpen(string table)
    {
        if (NetlinkSocket.TryOpen() is not { } socket)
        {
            return null;
        }

        // A batch that goes wrong must not leave the daemon waiting: answers come at once or not at all.
        socket.SetReceiveTimeout(TimeSpan.FromSeconds(2));
        socket.SetBuffers(SendBuffer, 1 << 20);
        return new NftNetlink(socket, table);
    }

    /// <summary>
    /// The ruleset generation the daemon's own commits have carried the kernel to since the last <see cref="Trust"/>,
    /// with no other transaction (of any process, on any table) in between; null when there was one, or when a
    /// commit's outcome is unknown (no answer), or before any <see cref="Trust"/>.
    /// </summary>
    public uint? Chained
    {
        get
        {
            lock (_lock)
            {
                return _chain;
            }
        }
    }

    /// <summary>Starts the chain at <paramref name="generation"/>: the kernel's state there is the daemon's to vouch for.</summary>
    public void Trust(uint generation)
    {
        lock (_lock)
        {
            _chain = generation;
        }
    }

    /// <summary>Ends the chain (a commit went past it, such as nft text after netlink failed).</summary>
    public void Untrust()
    {
        lock (_lock)
        {
            _chain = null;
        }
    }

    /// <summary>
    /// Runs <paramref name="commit"/> (one libnftables transaction) inside the chain: no batch of this socket can
    /// come between, and the generation is read before and after it. The chain goes on when the generation did not
    /// move, or moved by exactly one and <paramref name="committed"/> says the commit succeeded; otherwise another
    /// transaction came between and the chain ends. A successful commit that changed nothing leaves the generation
    /// as it was, so one that changed nothing while another process committed would be taken for the daemon's own:
    /// use it for scripts that always change something (a ruleset apply flushes and refills its chains).
    /// </summary>
    public T Attributed<T>(Func<T> commit, Func<T, bool> committed)
    {
        ArgumentNullException.ThrowIfNull(commit);
        ArgumentNullException.ThrowIfNull(committed);
        if (Chained is null)
        {
            return commit(); // no chain to keep: batches need not wait for it
        }

        lock (_lock)
        {
            if (_chain is not { } chain)
            {
                return commit();
            }

            var before = ReadGeneration();
            if (before != chain)
            {
                _chain = null;
                return commit();
            }

            var result = commit();
            var after = ReadGeneration();
            _chain = after == chain || (after == NextGeneration(chain) && committed(result)) ? after : null;
            return result;
        }
    }

    /// <summary>
    /// Names the daemon's own monitor of this table. From then on a batch adding at least <see cref="UnheardFrom"/>
    /// blocks (not holds, not releases) is committed while the monitor does not listen, when every commit so far has reached the monitor
    /// (the kernel builds a notification per element while any socket listens). Nothing another process commits goes
    /// unheard: the generation is read before the monitor stops listening and must be either the one the kernel
    /// echoed to this socket's last batch (every commit before that one had reached the monitor before it) or the
    /// last the monitor has read; the batch carries that generation, so the kernel commits it only if no other
    /// transaction came first; and once the monitor listens again the generation must be the batch's own. Anything
    /// else, or no answer, tells the monitor it may have missed a change (<see cref="NftMonitor.Missed"/>), and the
    /// reconciler compares everything, as after lost notifications. A batch right after another process's commit,
    /// before the monitor has read it, is heard.
    /// </summary>
    public void ListenedBy(NftMonitor monitor)
    {
        ArgumentNullException.ThrowIfNull(monitor);
        lock (_lock)
        {
            _listener = monitor;
        }
    }

    /// <summary>
    /// The ruleset's generation now, when every commit up to it has reached <paramref name="monitor"/>: it is the
    /// generation of this socket's last batch (whose commit came after every earlier one's notifications), or the
    /// monitor has read its notifications; null otherwise (and the batch is heard). Under the lock.
    /// </summary>
    private uint? Heard(NftMonitor monitor) =>
        ReadGeneration() is { } now && (now == _lastOwn || now == monitor.HeardUpTo) ? now : null;

    /// <summary>For tests: runs right after a batch committed unheard, before the monitor listens again.</summary>
    internal Action? WhileUnheard { get; set; }

    /// <summary>
    /// The fewest elements a batch commits unheard (see <see cref="ListenedBy"/>). Measured here, IPv6 hosts, a batch
    /// heard against unheard (three rounds each, no other listener on the host): 1 element 19-27 µs against 16-22;
    /// 16 elements 46-76 against 41-46; 64 elements 150-164 against 108-122; 256 elements 755-909 against 354-655.
    /// Below a few dozen the saving is small, and a small batch (a hold, an operator's block) is left heard.
    /// </summary>
    public const int UnheardFrom = 32;

    /// <summary>
    /// Whether nothing but the batch itself was committed while the monitor did not listen, given the batch's
    /// <paramref name="answer"/> (0, an errno, -1 for none), the generation it carried (<paramref name="before"/>),
    /// the generation the kernel echoed for it, and the generation read once the monitor listened again.
    /// </summary>
    internal static bool OnlyItselfUnheard(int answer, uint before, uint? echoed, uint? now) => answer switch
    {
        0 => now == (echoed ?? before), // committed right after it (or changed nothing), and nothing after it
        Restart => false, // another transaction came first: perhaps while the monitor did not listen
        > 0 => now == before, // refused: the kernel aborted it
        _ => false, // no answer: what happened is unknown
    };

    /// <summary>The generation after <paramref name="generation"/>: the kernel skips 0 when it wraps.</summary>
    public static uint NextGeneration(uint generation) => generation == uint.MaxValue ? 1 : generation + 1;

    /// <summary>
    /// Adds blocks (hosts and prefixes alike, each to the set of its prefix length) with their time to live, in
    /// one transaction per <see cref="ElementsPerTransaction"/>; null on success, else why. A block already there
    /// takes the new time to live (the kernel updates an element's timeout when it is added again), so a caller may
    /// retry all, and a shorter block replaces a longer one. Blocks of no time are left out. The sets (of
    /// <paramref name="kind"/>, see <see cref="BlockSet"/>) must exist.
    /// </summary>
    public string? AddBlocks(IReadOnlyList<(IPNetwork Network, TimeSpan Ttl)> blocks, string kind = BlockSet.Blocks)
    {
        var packed = PackedBlocks.Of(blocks);
        for (var offset = 0; offset < packed.Count; offset += ElementsPerTransaction)
        {
            if (AddTransaction(packed, offset, Math.Min(packed.Count, offset + ElementsPerTransaction), kind, null, destroy: false) is { } error)
            {
                return error;
            }
        }

        return null;
    }

    /// <summary>
    /// Takes elements out of the sets of <paramref name="kind"/> (DESTROYSETELEM: one already gone, expired or never
    /// added, is no error), in one transaction per <see cref="ElementsPerTransaction"/>; null on success, else why.
    /// </summary>
    public string? DestroyElements(IReadOnlyList<IPNetwork> networks, string kind)
    {
        ArgumentNullException.ThrowIfNull(networks);
        var elements = new PackedBlocks(networks.Count);
        foreach (var network in networks)
        {
            elements.Add(network, TimeSpan.Zero);
        }

        for (var offset = 0; offset < elements.Count; offset += ElementsPerTransaction)
        {
            if (AddTransaction(elements, offset, Math.Min(elements.Count, offset + ElementsPerTransaction), kind, null, destroy: true) is { } error)
            {
                return error;
            }
        }

        return null;
    }

    /// <summary>
    /// Readies the path before the first real block, which would otherwise wait for the JIT while offenders are
    /// crossing: sends a real element batch, one IPv4 and one IPv6 host, to sets that do not exist, so the
    /// kernel refuses it (ENOENT) and aborts the whole transaction; nothing changes in the kernel. The answer
    /// is the proof the round trip worked: true when the kernel said "no such set", as it must.
    /// </summary>
    public bool WarmUp()
    {
        var probe = new PackedBlocks(2);
        probe.Add(new IPNetwork(new IPAddress([192, 0, 2, 1]), 32), TimeSpan.FromMinutes(1));
        probe.Add(new IPNetwork(IPAddress.Parse("2001:db8::1"), 128), TimeSpan.FromMinutes(1));
        var answer = AddTransaction(probe, 0, probe.Count, BlockSet.Blocks, "shaper_warmup_absent", destroy: false);
        return answer is not null && answer.EndsWith(Marshal.GetPInvokeErrorMessage(2), StringComparison.Ordinal);
    }

    /// <summary>
    /// True when <paramref name="chain"/> is in the table, false when the kernel says it (or the table) is not, null
    /// when netlink did not answer. One GETCHAIN for one named chain: unlike <c>nft list chain</c>, which fetches
    /// every set with all its elements first (half a second with 100,000 blocks), this costs the same at any size.
    /// </summary>
    public bool? HasChain(string chain)
    {
        lock (_lock)
        {
            if (!SendRequest(NfTables.GetChain, Nl.Ack, (NfTables.ChainTable, _table), (NfTables.ChainName, chain)))
            {
                return null;
            }

            return Acknowledgements(_writer.Sequence, 1, out _) switch
            {
                0 => true,
                2 => false, // ENOENT
                _ => null,
            };
        }
    }

    /// <summary>The ruleset's generation id, which every committed transaction moves; null when netlink did not answer.</summary>
    public uint? Generation()
    {
        lock (_lock)
        {
            return ReadGeneration();
        }
    }

    /// <summary>One GETGEN, under the lock.</summary>
    private uint? ReadGeneration()
    {
        if (!SendRequest(NfTables.GetGen, 0, family: 0))
        {
            return null;
        }

        uint? generation = null;
        var seq = _writer.Sequence;
        var answered = Receive(
            message =>
            {
                if (message.Sequence != seq)
                {
                    return null;
                }

                if (message.TryGetError(out var errno, out _))
                {
                    return errno == 0 ? 0 : errno;
                }

                if (message.Command == NfTables.NewGen && message.Attributes.TryFind(NfTables.GenId, out var id))
                {
                    generation = id.UInt32BigEndian;
                    return 0;
                }

                return null;
            },
            out _);
        return answered == 0 ? generation : null;
    }

    /// <summary>
    /// The element keys of <paramref name="set"/> (addresses, network order, as their hex text), from one GETSETELEM
    /// dump; null when netlink did not answer or the set is not there.
    /// </summary>
    public HashSet<string>? Elements(string set)
    {
        lock (_lock)
        {
            if (!SendRequest(NfTables.GetSetElem, Nl.Dump, (NfTables.SetElemListTable, _table), (NfTables.SetElemListSet, set)))
            {
                return null;
            }

            var keys = new HashSet<string>(StringComparer.Ordinal);
            return ReceiveDump(NfTables.NewSetElem, message => NftChange.ReadKeys(message.Attributes, keys)) ? keys : null;
        }
    }

    /// <summary>
    /// The table's sets, counters and limits as (kind, name), the kinds as <c>nft list table</c> writes them ("set",
    /// "counter", "limit"), from one GETSET and one GETOBJ dump; an empty list with <c>Exists</c> false when the table
    /// is not there; null when netlink did not answer. Neither dump carries set elements, so this costs the same at
    /// any number of blocks: <c>nft list table</c> (terse or not) reads every element first, and a set element dump
    /// restarts its walk of the set's hash table for each answer it fills, which made listing a table with a
    /// million blocks take 50 s of kernel time here.
    /// </summary>
    public (bool Exists, List<(string Kind, string Name)> Objects)? TableObjects()
    {
        lock (_lock)
        {
            var objects = new List<(string Kind, string Name)>();
            if (!SendRequest(NfTables.GetSet, Nl.Dump, (NfTables.SetTable, _table)))
            {
                return null;
            }

            var sets = ReceiveDumpAnswer(NfTables.NewSet, message =>
            {
                // Anonymous sets (a rule's inline { a, b }) belong to their rule; nft list leaves them out too.
                if (message.Attributes.TryFind(NfTables.SetName, out var name)
                    && !(message.Attributes.TryFind(NfTables.SetFlags, out var flags) && (flags.UInt32BigEndian & NfTables.SetAnonymous) != 0))
                {
                    objects.Add(("set", name.AsString()));
                }
            });
            if (sets == 2) // ENOENT: the kernel looks the table up before it dumps its sets
            {
                return (false, objects);
            }

            if (sets != 0 || !SendRequest(NfTables.GetObj, Nl.Dump, (NfTables.ObjTable, _table)))
            {
                return null;
            }

            var listed = ReceiveDump(NfTables.NewObj, message =>
            {
                if (message.Attributes.TryFind(NfTables.ObjName, out var name) && message.Attributes.TryFind(NfTables.ObjType, out var type)
                    && type.UInt32BigEndian is NfTables.ObjectCounter or NfTables.ObjectLimit)
                {
                    objects.Add((type.UInt32BigEndian == NfTables.ObjectCounter ? "counter" : "limit", name.AsString()));
                }
            });
            return listed ? (true, objects) : null;
        }
    }

    /// <summary>
    /// The packets of every named counter in the table, by name, from one GETOBJ dump; null when netlink did not
    /// answer. Like <see cref="HasChain"/> it costs the same at any number of blocks: <c>nft list counters</c>
    /// reads every set whole first (0.66 s here with 100,000 blocks), on every metrics scrape.
    /// </summary>
    public Dictionary<string, long>? CounterPackets()
    {
        lock (_lock)
        {
            if (!SendRequest(NfTables.GetObj, Nl.Dump, (NfTables.ObjTable, _table), objectType: NfTables.ObjectCounter)) // the table is the dump's filter
            {
                return null;
            }

            var counters = new Dictionary<string, long>(StringComparer.Ordinal);
            return ReceiveDump(NfTables.NewObj, message => ReadCounter(message, counters)) ? counters : null;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _socket.Dispose();

    /// <summary>
    /// Writes and sends one request, called under the lock: <paramref name="command"/> with NLM_F_REQUEST and
    /// <paramref name="flags"/>, the string attributes in order, then the object type when given. False when the
    /// send failed; the answer is for the caller to read.
    /// </summary>
    private bool SendRequest(byte command, ushort flags, (ushort Type, string? Value) first = default, (ushort Type, string? Value) second = default, uint? objectType = null, byte family = NfTables.FamilyInet)
    {
        _writer.Clear();
        var start = _writer.BeginMessage(NfTables.Type(command), (ushort)(Nl.Request | flags), family);
        foreach (var (type, value) in (ReadOnlySpan<(ushort Type, string? Value)>)[first, second])
        {
            if (value is not null)
            {
                _writer.String(type, value);
            }
        }

        if (objectType is { } obj)
        {
            _writer.UInt32BigEndian(NfTables.ObjType, obj);
        }

        _writer.EndMessage(start);
        return _socket.Send(_writer.Written) is null;
    }

    /// <summary>
    /// Reads the answer to the dump request just sent: each message of <paramref name="command"/> goes to
    /// <paramref name="item"/>; true once the dump ends, false on an error or no answer.
    /// </summary>
    private bool ReceiveDump(byte command, Action<NetlinkMessage> item) => ReceiveDumpAnswer(command, item) == 0;

    /// <summary>As <see cref="ReceiveDump"/>, with the answer that ended it: 0 when the dump ended, the errno of an error, null for no answer.</summary>
    private int? ReceiveDumpAnswer(byte command, Action<NetlinkMessage> item)
    {
        var seq = _writer.Sequence;
        var answered = Receive(
            message =>
            {
                if (message.Sequence != seq)
                {
                    return null;
                }

                if (message.Type == Nl.Done)
                {
                    return 0;
                }

                if (message.TryGetError(out var errno, out _))
                {
                    return errno;
                }

                if (message.Command == command)
                {
                    item(message);
                }

                return null;
            },
            out _);
        return answered;
    }

    /// <summary>One message's worth of answer handling: a result (0 or an errno) ends the reading.</summary>
    private delegate int? AnswerHandler(NetlinkMessage message);

    private string? AddTransaction(PackedBlocks blocks, int offset, int end, string kind, string? warmUpSet, bool destroy)
    {
        lock (_lock)
        {
            // In the chain, the batch is committed only at the chained generation; another transaction before it (the
            // kernel says ERESTART) ends the chain, and the batch goes again without it.
            while (true)
            {
                var chain = warmUpSet is null ? _chain : null;
                // Blocks only: holds and their releases are latency-critical small batches, left as they were (the
                // generation echoed only in the chain). A block batch always asks for it: it makes the next one unheard.
                var adding = warmUpSet is null && !destroy && kind == BlockSet.Blocks;
                var before = adding && end - offset >= UnheardFrom && _listener is { } monitor ? Heard(monitor) : null;
                var listener = before is { } heard && (chain is null || chain == heard) ? _listener : null;
                var expected = chain ?? (listener is null ? null : before);
                listener?.Pause();
                var answer = -1;
                string? failure = null;
                uint? generation = null;
                try
                {
                    answer = SendTransaction(blocks, offset, end, kind, warmUpSet, destroy, expected, adding || chain is not null, out failure, out generation);
                    if (listener is not null)
                    {
                        WhileUnheard?.Invoke();
                    }
                }
                finally
                {
                    if (listener is not null)
                    {
                        listener.Resume();
                        if (!OnlyItselfUnheard(answer, expected!.Value, generation, ReadGeneration()))
                        {
                            listener.Missed();
                        }
                    }
                }

                if (answer == 0 && generation is { } committed)
                {
                    _lastOwn = committed;
                }

                if (answer == Restart && chain is null)
                {
                    continue; // another transaction came before the unheard batch: again, heard
                }

                if (chain is null)
                {
                    return Answer(answer, failure);
                }

                if (answer == Restart)
                {
                    _chain = null;
                    continue;
                }

                // Refused: the kernel aborted the whole batch, the generation stays. No answer: unknown, the chain ends.
                _chain = answer switch
                {
                    0 => generation ?? chain,
                    > 0 => chain,
                    _ => null,
                };
                return Answer(answer, failure);
            }
        }
    }

    private static string? Answer(int answer, string? failure) => answer switch
    {
        0 => null,
        > 0 => RefusedPrefix + Marshal.GetPInvokeErrorMessage(answer),
        _ => failure,
    };

    /// <summary>
    /// Builds and sends one batch, under the lock, and reads its answer: 0, an errno, or -1 (<paramref name="failure"/>
    /// says why). With <paramref name="expected"/>, the batch carries it (the kernel commits it only at that
    /// generation). With <paramref name="echoGeneration"/>, it starts with a message that changes nothing (a NEWTABLE
    /// of the table that exists, with no flags) but asks for an echo, which makes the kernel answer the commit with the
    /// generation it made (<paramref name="generation"/>; null when the batch changed nothing and the generation
    /// did not move).
    /// </summary>
    // Compiled once, optimized, at its first call, as BlockStore.Scan: a restore runs it for a million elements at once.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int SendTransaction(PackedBlocks blocks, int offset, int end, string kind, string? warmUpSet, bool destroy, uint? expected, bool echoGeneration, out string? failure, out uint? generation)
    {
        failure = null;
        generation = null;
        _writer.Clear();
        if (expected is { } generationBefore)
        {
            _writer.BeginBatch(NfTables.Subsystem, generationBefore);
        }
        else
        {
            _writer.BeginBatch(NfTables.Subsystem);
        }

        var begin = _writer.Sequence;
        uint echo = 0;
        if (echoGeneration)
        {
            // The kernel echoes the generation when the batch's first message asks (nf_tables_gen_notify reads it).
            var table = _writer.BeginMessage(NfTables.Type(NfTables.NewTable), Nl.Request | Nl.Echo, NfTables.FamilyInet);
            _writer.String(NfTables.TableName, _table);
            _writer.EndMessage(table);
            echo = _writer.Sequence;
        }

        var first = _writer.Sequence + 1;
        var messages = 0;

        // Elements grouped by set: one NEWSETELEM message per run of up to ElementsPerMessage of one set, its name
        // made once per message.
        var order = new int[end - offset];
        var sets = new int[end - offset];
        var count = 0;
        for (var i = offset; i < end; i++)
        {
            if (destroy || blocks.Ttl(i) > TimeSpan.Zero)
            {
                var set = blocks.SetOf(i);
                sets[count] = SetGrouping.Key(set.V4, set.PrefixLength);
                order[count++] = i;
            }
        }

        SetGrouping.Sort(sets, order, count);
        var inMessage = 0;
        var message = -1;
        var elements = -1;
        for (var n = 0; n < count; n++)
        {
            var block = order[n];
            if (inMessage > 0 && (inMessage == ElementsPerMessage || sets[n] != sets[n - 1]))
            {
                _writer.EndNest(elements);
                _writer.EndMessage(message);
                inMessage = 0;
            }

            if (inMessage == 0)
            {
                message = destroy
                    ? _writer.BeginMessage(NfTables.Type(NfTables.DestroySetElem), Nl.Request | Nl.Ack, NfTables.FamilyInet)
                    : _writer.BeginMessage(NfTables.Type(NfTables.NewSetElem), Nl.Request | Nl.Create | Nl.Ack, NfTables.FamilyInet);
                _writer.String(NfTables.SetElemListTable, _table);
                _writer.String(NfTables.SetElemListSet, warmUpSet ?? blocks.SetOf(block, kind).Name);
                elements = _writer.BeginNest(NfTables.SetElemListElements);
                messages++;
            }

            var element = _writer.BeginNest(NfTables.ListElem);
            var keyNest = _writer.BeginNest(NfTables.SetElemKey);
            _writer.Bytes(NfTables.DataValue, blocks.Key(block));
            _writer.EndNest(keyNest);
            if (!destroy)
            {
                // The expiration too: an element added again with the same timeout and none keeps its old expiry
                // (and the ruleset its generation), so renewing a block for the same time would not renew it.
                var timeout = NftBlockSets.TimeoutMs(blocks.Ttl(block))!.Value;
                _writer.UInt64BigEndian(NfTables.SetElemTimeout, timeout);
                _writer.UInt64BigEndian(NfTables.SetElemExpiration, timeout);
            }

            _writer.EndNest(element);
            inMessage++;
        }

        if (inMessage > 0)
        {
            _writer.EndNest(elements);
            _writer.EndMessage(message);
        }

        if (messages == 0)
        {
            return 0;
        }

        _writer.EndBatch(NfTables.Subsystem);
        if (_socket.Send(_writer.Written) is { } error)
        {
            failure = error;
            return -1;
        }

        return Acknowledgements(begin, first, messages, echo, out failure, out generation);
    }

    /// <summary>One NEWOBJ message's attributes: its name and, in its data, the packet count.</summary>
    private static void ReadCounter(NetlinkMessage message, Dictionary<string, long> counters)
    {
        string? name = null;
        long packets = -1;
        foreach (var attribute in message.Attributes)
        {
            if (attribute.Type == NfTables.ObjName)
            {
                name = attribute.AsString();
            }
            else if (attribute.Type == NfTables.ObjData && attribute.Nested.TryFind(NfTables.CounterPackets, out var count) && count.Value.Length == 8)
            {
                packets = (long)count.UInt64BigEndian;
            }
        }

        if (name is not null && packets >= 0)
        {
            counters[name] = packets;
        }
    }

    /// <summary>
    /// Reads the kernel's answers to the requests numbered from <paramref name="first"/>: one acknowledgement each,
    /// or the error that refused one. 0 when all are acknowledged, the errno when the kernel refused, -1 when no
    /// usable answer came (<paramref name="failure"/> says why).
    /// </summary>
    private int Acknowledgements(uint first, int expected, out string? failure) => Acknowledgements(first, first, expected, 0, out failure, out _);

    /// <summary>
    /// As <see cref="Acknowledgements(uint, int, out string?)"/> for a batch begun at <paramref name="begin"/> (the
    /// kernel answers a refused generation to the begin message), with the generation echoed to the message
    /// <paramref name="echo"/> (0: none asked), which the kernel sends before the acknowledgements.
    /// </summary>
    private int Acknowledgements(uint begin, uint first, int expected, uint echo, out string? failure, out uint? generation)
    {
        var acked = 0;
        uint? echoed = null;
        var answer = Receive(
            message =>
            {
                if (echo != 0 && message.Sequence == echo && message.Command == NfTables.NewGen && message.Attributes.TryFind(NfTables.GenId, out var id))
                {
                    echoed = id.UInt32BigEndian;
                    return null;
                }

                if (!message.TryGetError(out var errno, out _) || message.Sequence < begin)
                {
                    return null; // an answer to an earlier request, or a dump's object
                }

                if (message.Sequence < first)
                {
                    return errno != 0 ? errno : null; // the batch itself refused (its generation), or an echo asked no ack
                }

                return errno != 0 ? errno : ++acked == expected ? 0 : null;
            },
            out failure);
        generation = echoed;
        return answer;
    }

    /// <summary>
    /// Reads the kernel's messages and hands each to <paramref name="handle"/> until it returns a result, which this
    /// returns; -1 when no usable answer came (<paramref name="failure"/> says why).
    /// </summary>
    private int Receive(AnswerHandler handle, out string? failure)
    {
        failure = null;
        while (true)
        {
            var received = _socket.Receive(_answer);
            if (received <= 0)
            {
                failure = $"netlink: no answer from the kernel ({Marshal.GetPInvokeErrorMessage(-received)})";
                return -1;
            }

            var messages = new NetlinkMessageEnumerator(_answer.AsSpan(0, received));
            while (messages.MoveNext())
            {
                if (handle(messages.Current) is { } result)
                {
                    return result;
                }
            }

            if (messages.Malformed)
            {
                failure = "netlink: malformed answer";
                return -1;
            }
        }
    }
}
