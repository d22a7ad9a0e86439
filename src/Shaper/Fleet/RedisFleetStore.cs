using System.Globalization;
using Shaper.Rules;
using StackExchange.Redis;

namespace Shaper.Fleet;

/// <summary>
/// The fleet's Redis store (one server or a Redis Cluster) through StackExchange.Redis, configured so that nothing
/// blocks or queues without bound while Redis is away: <c>abortConnect=false</c> (start without it, connect in the
/// background), <see cref="BacklogPolicy.FailFast"/> (a command while disconnected fails at once instead of
/// waiting in the backlog until its timeout), connect and command timeouts of one attempt's timeout, and
/// reconnects backing off from 100 ms to 1 s. One exchange is one pipelined batch: a script per key
/// (<see cref="FleetScript"/>), a script per block published, and a read of the block set's version, sent together,
/// awaited together; the block set is read only when its version moved.
/// <para>
/// The fleet's blocks are a sorted set of networks scored by the end of their block (Unix ms), a hash of the host
/// that published each (the one whose end is kept), a sorted set of deleted networks scored by when they were deleted
/// (Unix ms), and a version that each change increments, all under one hash tag (<c>{blocks}</c>, one Cluster slot). A
/// network published again keeps the later end (<c>ZADD GT</c>); ended blocks are pruned as blocks are published.
/// A deleted network leaves the set, and a publication of it decided at or before its deletion (one a host kept
/// through an outage, or decided in the round the deletion was sent) is refused, so a deleted block never comes back;
/// one decided after it is a new block. Deletions are kept for <c>keep</c> (the longest <c>block_for</c> of the fleet
/// rules): a publication decided before a deletion that old has ended, and an ended block is refused anyway.
/// </para>
/// </summary>
public sealed class RedisFleetStore : IAsyncDisposable
{
    /// <summary>The fleet's blocks: networks scored by the end of their block, Unix ms.</summary>
    public const string BlocksKey = "shaper:{blocks}:z";

    /// <summary>The version of <see cref="BlocksKey"/>: incremented by each change.</summary>
    public const string BlocksVersionKey = "shaper:{blocks}:v";

    /// <summary>The host that published each block of <see cref="BlocksKey"/> (the one whose end is kept).</summary>
    public const string BlocksOriginKey = "shaper:{blocks}:o";

    /// <summary>The networks deleted from <see cref="BlocksKey"/>, scored by when (Unix ms).</summary>
    public const string DeletedKey = "shaper:{blocks}:d";

    /// <summary>
    /// Publishes one block (ARGV: end, network, now, host, decided, keep; times in ms) atomically: refused (-1) when it has
    /// ended or the network was deleted at or after it was decided; else kept with the later end and its host, the
    /// version moved when it changed; ended blocks and deletions older than keep pruned.
    /// </summary>
    private const string PublishLua = """
        local now = tonumber(ARGV[3])
        redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - tonumber(ARGV[6]))
        local deleted = redis.call('ZSCORE', KEYS[4], ARGV[2])
        if tonumber(ARGV[1]) <= now or (deleted and tonumber(deleted) >= tonumber(ARGV[5])) then return -1 end
        local changed = redis.call('ZADD', KEYS[1], 'GT', 'CH', ARGV[1], ARGV[2])
        if changed > 0 then redis.call('HSET', KEYS[3], ARGV[2], ARGV[4]) end
        local ended = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
        for _, network in ipairs(ended) do
          redis.call('ZREM', KEYS[1], network)
          redis.call('HDEL', KEYS[3], network)
        end
        if changed + #ended > 0 then redis.call('INCR', KEYS[2]) end
        return changed
        """;

    /// <summary>Deletes one block (ARGV: network, now in ms) atomically: out of the set, its deletion recorded, the version moved; 1 when the set had it.</summary>
    private const string DeleteLua = """
        local had = redis.call('ZREM', KEYS[1], ARGV[1])
        redis.call('HDEL', KEYS[3], ARGV[1])
        redis.call('ZADD', KEYS[4], 'GT', ARGV[2], ARGV[1])
        redis.call('INCR', KEYS[2])
        return had
        """;

    private static readonly RedisKey[] BlockKeys = [BlocksKey, BlocksVersionKey, BlocksOriginKey, DeletedKey];

    private readonly ConnectionMultiplexer _redis;
    private readonly string _host;

    private RedisFleetStore(ConnectionMultiplexer redis, string host)
    {
        _redis = redis;
        _host = host;
    }

    /// <summary>True while a connection to the store is up.</summary>
    public bool IsConnected => _redis.IsConnected;

    /// <summary>Why <paramref name="configuration"/> is not a StackExchange.Redis configuration string with an endpoint, or null when it is.</summary>
    public static string? ConfigurationError(string configuration)
    {
        if (string.IsNullOrWhiteSpace(configuration))
        {
            return "names no endpoint";
        }

        try
        {
            var options = ConfigurationOptions.Parse(configuration);
            return options.EndPoints.Count == 0 ? "names no endpoint" : null;
        }
        catch (ArgumentException ex)
        {
            return ex.Message.Split('\n')[0].TrimEnd('.');
        }
    }

    /// <summary>Connects (in the background when Redis is not up yet) as <paramref name="host"/>, with <paramref name="timeout"/> for connects and commands.</summary>
    public static async Task<RedisFleetStore> ConnectAsync(string configuration, string host, TimeSpan timeout)
    {
        var options = ConfigurationOptions.Parse(configuration);
        options.AbortOnConnectFail = false;
        options.BacklogPolicy = BacklogPolicy.FailFast;
        var ms = (int)Math.Max(1, timeout.TotalMilliseconds);
        options.ConnectTimeout = Math.Max(ms, 200);
        options.SyncTimeout = ms;
        options.AsyncTimeout = ms;
        options.ConnectRetry = 1;
        options.ReconnectRetryPolicy = new ExponentialRetry(100, 1000);
        options.ClientName = $"shaperd-{host}";
        var redis = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
        return new RedisFleetStore(redis, host);
    }

    /// <summary>
    /// Sends every delta, every block of <paramref name="publish"/> and every deletion of <paramref name="delete"/>
    /// (networks) to the store in one pipelined batch and returns one grant per delta, with the block set's version and,
    /// when that differs from <paramref name="knownVersion"/>, the blocks not yet ended with the host that published
    /// each. A block with no decision time counts as decided now; <paramref name="keepDeletedMs"/> is how long
    /// deletions are kept. <paramref name="nowUs"/> is the wall clock in microseconds, <paramref name="intervalUs"/>
    /// the time the deltas cover, and <paramref name="rules"/> the fleet rules by name (their full limits). Throws when
    /// any command fails.
    /// </summary>
    public async Task<FleetExchange> ExchangeAsync(
        IReadOnlyList<FleetDelta> deltas,
        IReadOnlyList<FleetBlock> publish,
        IReadOnlyList<string> delete,
        long keepDeletedMs,
        long knownVersion,
        IReadOnlyDictionary<string, Rule> rules,
        TimeSpan sync,
        long nowUs,
        long intervalUs,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deltas);
        ArgumentNullException.ThrowIfNull(publish);
        ArgumentNullException.ThrowIfNull(delete);
        ArgumentNullException.ThrowIfNull(rules);
        var db = _redis.GetDatabase();
        var batch = db.CreateBatch();
        var replies = new Task<RedisResult>[deltas.Count + publish.Count + delete.Count];
        var now = nowUs.ToString(CultureInfo.InvariantCulture);
        var interval = intervalUs.ToString(CultureInfo.InvariantCulture);
        var syncUs = (sync.Ticks / 10).ToString(CultureInfo.InvariantCulture);
        for (var i = 0; i < deltas.Count; i++)
        {
            var delta = deltas[i];
            var (algorithm, p1, p2, ttl) = FleetScript.Parameters(rules[delta.Rule], sync);
            var tag = $"shaper:{{{delta.Rule}|{delta.Key}}}";
            replies[i] = batch.ScriptEvaluateAsync(
                FleetScript.Lua,
                [tag + ":s", tag + ":d"],
                [algorithm, now, delta.Hits, delta.Demand, _host, interval, p1, p2, ttl, delta.Carried, syncUs]);
        }

        var nowMs = nowUs / 1000;
        for (var i = 0; i < publish.Count; i++)
        {
            var decided = publish[i].DecidedUnixMs > 0 ? publish[i].DecidedUnixMs : nowMs;
            replies[deltas.Count + i] = batch.ScriptEvaluateAsync(PublishLua, BlockKeys, [publish[i].EndsUnixMs, publish[i].Network, nowMs, _host, decided, keepDeletedMs]);
        }

        for (var i = 0; i < delete.Count; i++)
        {
            replies[deltas.Count + publish.Count + i] = batch.ScriptEvaluateAsync(DeleteLua, BlockKeys, [delete[i], nowMs]);
        }

        // Also what an idle host sends: so it still knows (and shows) whether the store answers.
        var version = batch.StringGetAsync(BlocksVersionKey);
        batch.Execute();
        var all = new Task[replies.Length + 1];
        replies.CopyTo(all, 0);
        all[^1] = version;
        await Task.WhenAll(all).WaitAsync(cancellationToken).ConfigureAwait(false);
        var grants = new FleetGrant[deltas.Count];
        for (var i = 0; i < grants.Length; i++)
        {
            var reply = (RedisResult[])replies[i].Result!;
            grants[i] = new FleetGrant(deltas[i].Rule, deltas[i].Key, Number(reply[0]), Number(reply[1]), Number(reply[2]), Number(reply[3]));
        }

        var current = version.Result.TryParse(out long v) ? v : 0;
        if (current == knownVersion)
        {
            return new FleetExchange(grants, current, null);
        }

        var read = db.CreateBatch();
        var liveTask = read.SortedSetRangeByScoreWithScoresAsync(BlocksKey, nowMs, double.PositiveInfinity, exclude: Exclude.Start);
        var originsTask = read.HashGetAllAsync(BlocksOriginKey);
        read.Execute();
        await Task.WhenAll(liveTask, originsTask).WaitAsync(cancellationToken).ConfigureAwait(false);
        var live = liveTask.Result;
        var origins = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in originsTask.Result)
        {
            origins[entry.Name!] = entry.Value!;
        }

        var blocks = new FleetBlock[live.Length];
        for (var i = 0; i < live.Length; i++)
        {
            var network = (string)live[i].Element!;
            blocks[i] = new FleetBlock(network, (long)live[i].Score, origins.GetValueOrDefault(network, ""));
        }

        return new FleetExchange(grants, current, blocks);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await _redis.DisposeAsync().ConfigureAwait(false);

    private static double Number(RedisResult value) => double.Parse((string)value!, NumberStyles.Float, CultureInfo.InvariantCulture);
}
