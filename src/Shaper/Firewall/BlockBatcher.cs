using System.Collections.Concurrent;
using System.Net;
using System.Runtime.CompilerServices;

namespace Shaper.Firewall;

/// <summary>
/// A block to install: the network, how long, the rule that asked (null for an operator), when its cause was seen
/// (Unix ns, 0 when unknown), who waits to hear that the kernel holds it (null when no one waits), and who decided it
/// as the block store records it (null: the rule's, or for a re-install whatever the store has). For the latency of
/// each hop: when it was queued (Unix ns, 0 when not measured) and when the install thread took it (set by the batcher).
/// </summary>
public readonly record struct BlockRequest(IPNetwork Network, TimeSpan Ttl, string? Rule = null, long DetectedNs = 0, TaskCompletionSource<string?>? Acknowledge = null, string? Source = null, long QueuedNs = 0, long TakenNs = 0);

/// <summary>A block once tried: null <paramref name="Error"/> when the kernel holds it, else why it refused it.</summary>
public readonly record struct BlockOutcome(BlockRequest Request, string? Error);

/// <summary>
/// The one hop between a block decision and the kernel. Whoever decides (the engine thread, the control
/// socket) only queues; the install thread installs by group commit: whatever is queued (up to
/// <see cref="MaxBatch"/>) in one command at once, and what arrives while that command runs goes in the next.
/// A lone block waits for nothing; a thousand offenders crossing a limit together cost a few commands, not a
/// thousand, and the first of them is not held back for the last. A command the kernel refuses is tried again
/// in halves, down to single blocks, so one block the kernel refuses never takes the others with it, and each
/// block's outcome is its own. The bookkeeping of an installed batch (recording, logging, acknowledging) runs
/// on a second thread, so it never delays a block that is still to be installed.
/// <para>
/// The hand-over is a list under a monitor that the install thread swaps for an empty one, taking everything queued
/// in one step, and a queuing thread signals only when the install thread sleeps (once per batch, not per block).
/// Both ends are compiled optimized on their first call (<see cref="MethodImplOptions.AggressiveOptimization"/>): the
/// first attack after a start runs them a thousand times at once, before tiered compilation would have promoted them,
/// and a concurrent collection's generic code ran there unoptimized, a few microseconds a block on each side.
/// </para>
/// </summary>
public sealed class BlockBatcher : IDisposable
{
    /// <summary>The most blocks in one command.</summary>
    public const int MaxBatch = 4096;

    /// <summary>The bookkeeping thread's nice value: a tenth of a normal thread's share of a busy CPU.</summary>
    public const int BookkeepingNice = 10;

    private readonly object _gate = new(); // guards _pending, _sleeping, _completed
    private List<BlockRequest> _pending = new(MaxBatch);
    private bool _sleeping;
    private bool _completed;
    private readonly BlockingCollection<Installed> _done = new(new ConcurrentQueue<Installed>());
    private readonly Func<IReadOnlyList<(IPNetwork Network, TimeSpan Ttl)>, string?> _install;
    private readonly Action<IReadOnlyList<BlockOutcome>, DateTimeOffset> _committed;
    private readonly Action<IReadOnlyList<BlockOutcome>>? _installed;
    private readonly TimeProvider _time;
    private readonly bool _realtime;
    private readonly Thread _installer;
    private readonly Thread _recorder;
    private long _batches;
    private long _splits;
    private long _unrecorded;

    /// <summary>
    /// Starts the batcher: <paramref name="install"/> runs one command and returns null or why it failed;
    /// <paramref name="committed"/> then hears, in order and on the bookkeeping thread, each block of a batch with
    /// its outcome, and when the batch's last command returned (by <paramref name="time"/>, the system clock by default).
    /// A <paramref name="realtime"/> batcher installs at SCHED_FIFO where allowed, ahead of every ordinary thread, while
    /// it is light, and steps down to nice -5 while a flood of blocks keeps it busy (<see cref="Threading.RealtimeThread"/>):
    /// for blocks and holds, whose every millisecond of install latency lets an offender's packets through on a busy host.
    /// <paramref name="installed"/>, when given, hears each batch's outcomes on the install thread the moment its last
    /// command returned, before the next batch: for whoever must know when the kernel had a block, not only that it did.
    /// </summary>
    public BlockBatcher(
        Func<IReadOnlyList<(IPNetwork Network, TimeSpan Ttl)>, string?> install,
        Action<IReadOnlyList<BlockOutcome>, DateTimeOffset> committed,
        TimeProvider? time = null,
        bool realtime = false,
        Action<IReadOnlyList<BlockOutcome>>? installed = null)
    {
        _install = install;
        _committed = committed;
        _installed = installed;
        _time = time ?? TimeProvider.System;
        _realtime = realtime;

        // Compile the bookkeeping queue's add and take now rather than on the first block, when offenders are waiting.
        _done.Add(default);
        _done.Take();
        _installer = new Thread(Install) { IsBackground = true, Name = "shaper-blocks" };
        _recorder = new Thread(Record) { IsBackground = true, Name = "shaper-blocklog" };
        _installer.Start();
        _recorder.Start();
    }

    /// <summary>Batches installed so far.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>
    /// Batches taken for installing whose bookkeeping has not finished: counted before the first command goes to the
    /// kernel and until <c>committed</c> has returned, so a reader that sees the kernel after a batch's commit sees
    /// it counted here (or recorded) too.
    /// </summary>
    public long Unrecorded => Interlocked.Read(ref _unrecorded);

    /// <summary>Commands that the kernel refused and that were tried again in halves.</summary>
    public long Splits => Interlocked.Read(ref _splits);

    /// <summary>Queues one block; waits only for the hand-over's monitor, held for a list append or swap.</summary>
    /// <exception cref="InvalidOperationException">The batcher is disposed.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Add(in BlockRequest request)
    {
        lock (_gate)
        {
            if (_completed)
            {
                throw new InvalidOperationException("the block batcher is stopped");
            }

            _pending.Add(request);
            if (_sleeping)
            {
                _sleeping = false;
                Monitor.Pulse(_gate);
            }
        }
    }

    /// <summary>Installs what is queued, then waits for the bookkeeping of every batch to finish.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            Monitor.Pulse(_gate);
        }

        _installer.Join();
        _done.CompleteAdding();
        _recorder.Join();
        _done.Dispose();
    }

    /// <summary>
    /// Everything queued, swapped for <paramref name="spare"/> (empty) in one step; waits while nothing is. Null once
    /// disposed with nothing left.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private List<BlockRequest>? TakeAll(List<BlockRequest> spare)
    {
        lock (_gate)
        {
            while (_pending.Count == 0)
            {
                if (_completed)
                {
                    return null;
                }

                _sleeping = true;
                Monitor.Wait(_gate);
            }

            var taken = _pending;
            _pending = spare;
            _sleeping = false;
            return taken;
        }
    }

    private void Install()
    {
        // Real-time while light (where allowed), stepped down while a flood of blocks keeps it busy.
        Threading.RealtimeThread? scheduling = null;
        if (_realtime)
        {
            scheduling = new Threading.RealtimeThread(Threading.ThreadNice.ReleasePath, Threading.ThreadNice.EnforcementPath, _time);
        }
        else
        {
            _ = Threading.ThreadNice.Set(Threading.ThreadNice.EnforcementPath);
        }

        var spare = new List<BlockRequest>(MaxBatch);
        var command = new List<(IPNetwork, TimeSpan)>(MaxBatch);
        while (TakeAll(spare) is { } taken)
        {
            // One clock read per hand-over: when the install thread took its blocks.
            var takenNs = (_time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;
            for (var start = 0; start < taken.Count; start += MaxBatch)
            {
                InstallBatch(taken, start, Math.Min(taken.Count, start + MaxBatch), takenNs, command);
                scheduling?.Check();
            }

            taken.Clear();
            spare = taken;
        }
    }

    /// <summary>One batch, <paramref name="taken"/>[<paramref name="start"/>..<paramref name="end"/>): installed, heard by <c>installed</c>, handed to the bookkeeping.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void InstallBatch(List<BlockRequest> taken, int start, int end, long takenNs, List<(IPNetwork, TimeSpan)> command)
    {
        var outcomes = new BlockOutcome[end - start];
        command.Clear();
        for (var i = start; i < end; i++)
        {
            command.Add((taken[i].Network, taken[i].Ttl));
        }

        var errors = new string?[outcomes.Length];
        Interlocked.Increment(ref _unrecorded);
        InstallOrSplit(command, 0, command.Count, errors);
        for (var i = 0; i < outcomes.Length; i++)
        {
            outcomes[i] = new BlockOutcome(taken[start + i] with { TakenNs = takenNs }, errors[i]);
        }

        _installed?.Invoke(outcomes);

        _done.Add(new Installed(outcomes, _time.GetUtcNow()));
        Interlocked.Increment(ref _batches);
    }

    /// <summary>
    /// Installs <paramref name="command"/>[<paramref name="start"/>..<paramref name="end"/>); when the kernel refuses,
    /// the two halves are tried on their own, down to single blocks, whose refusal is theirs alone.
    /// </summary>
    private void InstallOrSplit(List<(IPNetwork, TimeSpan)> command, int start, int end, string?[] errors)
    {
        var part = start == 0 && end == command.Count ? command : command.GetRange(start, end - start);
        if (_install(part) is not { } error)
        {
            return;
        }

        if (end - start == 1)
        {
            errors[start] = error;
            return;
        }

        Interlocked.Increment(ref _splits);
        var middle = start + ((end - start) / 2);
        InstallOrSplit(command, start, middle, errors);
        InstallOrSplit(command, middle, end, errors);
    }

    private void Record()
    {
        // Bookkeeping gives way to capture, decisions and installs when the CPUs are short (during an attack).
        _ = Threading.ThreadNice.Set(BookkeepingNice);
        foreach (var batch in _done.GetConsumingEnumerable())
        {
            try
            {
                _committed(batch.Outcomes, batch.At);
            }
            finally
            {
                Interlocked.Decrement(ref _unrecorded);
            }
        }
    }

    private readonly record struct Installed(BlockOutcome[] Outcomes, DateTimeOffset At);
}
