using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using Shaper.Engine;
using Shaper.Packets;
using Shaper.Queue;
using Shaper.Rules;

namespace Shaper.Replay;

/// <summary>
/// Replays packets through a rule set with the packets' own timestamps as the clock: the same input
/// gives the same result every run. Replay runs each rule's algorithm whatever its <c>enforce</c>, so a
/// kernel rule can be previewed, all of them under the one <c>[global]</c> cap (see <see cref="Plan.GlobalCap"/>). Reading and parsing run on one thread and the engine on another, handing
/// over batches of parsed packets in order, so a replay goes about as fast as the file can be read.
/// </summary>
public static class ReplayRunner
{
    /// <summary>The most keys tracked per rule and address family during a replay; past it, keys are evicted.</summary>
    public const int DefaultKeysPerRule = 1 << 22;

    private const int BatchSize = 4096;

    /// <summary>How many packets ahead the engine prefetches key table slots: enough to cover a cache miss.</summary>
    private const int PrefetchDistance = 8;
    private const int Batches = 8;

    /// <summary>
    /// Runs <paramref name="source"/> through <paramref name="rules"/>. <paramref name="progress"/> is called
    /// with the packets replayed so far about once a second of wall time (as <paramref name="time"/> tells),
    /// not at all for inputs that take less than a second.
    /// </summary>
    /// <exception cref="ReplayInputException">The input broke part way (a bad CSV row, a corrupt capture).</exception>
    public static ReplayResult Run(
        CompiledRuleSet rules,
        IReplaySource source,
        TimeProvider time,
        Action<long>? progress = null,
        int maxKeysPerRule = DefaultKeysPerRule)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(time);
        var engine = new RuleEngine(rules, maxKeysPerRule, RuleEngine.InitialKeysPerRule)
        {
            // The daemon's queues hold at most max_held packets together; the replay holds each to its departure slot.
            HeldCap = rules.Config.Rules.Any(r => r.Enforce == EnforceKind.Queue) ? new HeldTimeline(rules.Config.Daemon.MaxHeld) : null,
        };

        // match.iface names the interfaces the input names (the CSV's iface column), numbered by the replay; a rule's
        // name that the input never names matches nothing. The reader resolves a new name before it hands on the
        // packet that carries it, and the hand-over orders the two for the engine's thread.
        var interfaces = 0;
        rules.ResolveInterfaces([]);
        source.OnInterfaces(named =>
        {
            interfaces = named.Count;
            rules.ResolveInterfaces(named);
        });
        using var full = new BlockingCollection<PacketMeta[]>(Batches);
        using var free = new BlockingCollection<(PacketMeta[] Items, int Count)>();
        var counts = new ConcurrentQueue<int>();
        for (var i = 0; i < Batches; i++)
        {
            free.Add((new PacketMeta[BatchSize], 0));
        }

        Exception? failure = null;
        var reader = new Thread(() => Read(source, full, free, counts, ref failure)) { IsBackground = true, Name = "replay-reader" };
        reader.Start();
        var started = time.GetTimestamp();
        var nextReport = TimeSpan.FromSeconds(1);
        long lastTimestamp = 0;
        try
        {
            foreach (var batch in full.GetConsumingEnumerable())
            {
                counts.TryDequeue(out var count);
                for (var i = 0; i < count; i++)
                {
                    if (i + PrefetchDistance < count)
                    {
                        engine.Prefetch(batch[i + PrefetchDistance]);
                    }

                    engine.Process(batch[i]);
                }

                if (count > 0)
                {
                    lastTimestamp = batch[count - 1].TimestampNs;
                }

                free.Add((batch, 0));
                if (progress is not null && time.GetElapsedTime(started) >= nextReport)
                {
                    progress(engine.Packets);
                    nextReport = time.GetElapsedTime(started) + TimeSpan.FromSeconds(1);
                }
            }
        }
        finally
        {
            // Should the engine fail, the reader must not wait for a free batch forever.
            free.CompleteAdding();
            reader.Join();
        }

        if (failure is not null)
        {
            ExceptionDispatchInfo.Throw(failure);
        }

        return new ReplayResult(engine.Report(lastTimestamp), engine.Packets, engine.Allowed, source.Counters)
        {
            GlobalLimited = rules.Cap is null ? null : engine.GlobalLimited,
            Interfaces = Volatile.Read(ref interfaces),
        };
    }

    private static void Read(
        IReplaySource source,
        BlockingCollection<PacketMeta[]> full,
        BlockingCollection<(PacketMeta[] Items, int Count)> free,
        ConcurrentQueue<int> counts,
        ref Exception? failure)
    {
        try
        {
            var (items, count) = free.Take();
            while (source.TryRead(out items[count]))
            {
                if (++count == items.Length)
                {
                    counts.Enqueue(count);
                    full.Add(items);
                    (items, count) = free.Take();
                }
            }

            counts.Enqueue(count);
            full.Add(items);
        }
        catch (InvalidOperationException) when (free.IsAddingCompleted)
        {
            // The engine side stopped; nothing more to read for.
        }
        catch (Exception e)
        {
            failure = e;
        }
        finally
        {
            full.CompleteAdding();
        }
    }
}
