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
/// The fleet's blocks are a sorted set of networks scored by the end of their block (Unix ms) and a version that
/// each change increments, both under one hash tag (<c>{blocks}</c>, one Cluster slot). A network published again
/// keeps the later end (<c>ZADD GT</c>); ended blocks are pruned as blocks are published.
/// </para>
/// </summary>
public sealed class RedisFleetStore : IAsyncDisposable
{
    /// <summary>The fleet's blocks: networks scored by the end of their block, Unix ms.</summary>
    public const string BlocksKey = "shaper:{blocks}:z";

    /// <summary>The version of <see cref="BlocksKey"/>: incremented by each change.</summary>
    public const string BlocksVersionKey = "shaper:{blocks}:v";

    /// <summary>Publishes one block (ARGV: end, network, now; all ms) atomically: kept with the later end, the version moved when it changed, ended blocks pruned.</summary>
    private const string PublishLua = """
        local changed = redis.call('ZADD', KEYS[1], 'GT', 'CH', ARGV[1], ARGV[2])
        local pruned = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
        if changed + pruned > 0 then redis.call('INCR', KEYS[2]) end
        return changed
        """;

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
    /// Sends every delta and every block of <paramref name="publish"/> to the store in one pipelined batch and returns
    /// one grant per delta, with the block set's version and, when that differs from <paramref name="knownVersion"/>,
    /// the blocks not yet ended. <paramref name="nowUs"/> is the wall clock in microseconds, <paramref name="intervalUs"/>
    /// the time the deltas cover, and <paramref name="rules"/> the fleet rules by name (their full limits). Throws when
    /// any command fails.
    /// </summary>
    public async Task<FleetExchange> ExchangeAsync(
        IReadOnlyList<FleetDelta> deltas,
        IReadOnlyList<FleetBlock> publish,
        long knownVersion,
        IReadOnlyDictionary<string, Rule> rules,
        TimeSpan sync,
        long nowUs,
        long intervalUs,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deltas);
        ArgumentNullException.ThrowIfNull(publish);
        ArgumentNullException.ThrowIfNull(rules);
        var db = _redis.GetDatabase();
        var batch = db.CreateBatch();
        var replies = new Task<RedisResult>[deltas.Count + publish.Count];
        var now = nowUs.ToString(CultureInfo.InvariantCulture);
        var interval = intervalUs.ToString(CultureInfo.InvariantCulture);
        for (var i = 0; i < deltas.Count; i++)
        {
            var delta = deltas[i];
            var (algorithm, p1, p2, ttl) = FleetScript.Parameters(rules[delta.Rule], sync);
            var tag = $"shaper:{{{delta.Rule}|{delta.Key}}}";
            replies[i] = batch.ScriptEvaluateAsync(
                FleetScript.Lua,
                [tag + ":s", tag + ":d"],
                [algorithm, now, delta.Hits, delta.Demand, _host, interval, p1, p2, ttl, delta.Carried]);
        }

        for (var i = 0; i < publish.Count; i++)
        {
            replies[deltas.Count + i] = batch.ScriptEvaluateAsync(PublishLua, [BlocksKey, BlocksVersionKey], [publish[i].EndsUnixMs, publish[i].Network, nowUs / 1000]);
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
            grants[i] = new FleetGrant(deltas[i].Rule, deltas[i].Key, Number(reply[0]), Number(reply[1]), Number(reply[2]));
        }

        var current = version.Result.TryParse(out long v) ? v : 0;
        if (current == knownVersion)
        {
            return new FleetExchange(grants, current, null);
        }

        var live = await db.SortedSetRangeByScoreWithScoresAsync(BlocksKey, nowUs / 1000, double.PositiveInfinity, exclude: Exclude.Start)
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        var blocks = new FleetBlock[live.Length];
        for (var i = 0; i < live.Length; i++)
        {
            blocks[i] = new FleetBlock(live[i].Element!, (long)live[i].Score);
        }

        return new FleetExchange(grants, current, blocks);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await _redis.DisposeAsync().ConfigureAwait(false);

    private static double Number(RedisResult value) => double.Parse((string)value!, NumberStyles.Float, CultureInfo.InvariantCulture);
}
