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
/// (<see cref="FleetScript"/>), sent together, awaited together.
/// </summary>
public sealed class RedisFleetStore : IAsyncDisposable
{
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
    /// Sends every delta to the store in one pipelined batch and returns one grant per delta (with no delta, a PING). <paramref name="nowUs"/>
    /// is the wall clock in microseconds, <paramref name="intervalUs"/> the time the deltas cover, and
    /// <paramref name="rules"/> the fleet rules by name (their full limits). Throws when any script fails.
    /// </summary>
    public async Task<IReadOnlyList<FleetGrant>> ExchangeAsync(
        IReadOnlyList<FleetDelta> deltas, IReadOnlyDictionary<string, Rule> rules, TimeSpan sync, long nowUs, long intervalUs, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deltas);
        ArgumentNullException.ThrowIfNull(rules);
        var db = _redis.GetDatabase();
        if (deltas.Count == 0)
        {
            // Nothing to exchange: one PING instead, so an idle host still knows (and shows) whether the store answers.
            await db.PingAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
            return [];
        }

        var batch = db.CreateBatch();
        var replies = new Task<RedisResult>[deltas.Count];
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

        batch.Execute();
        await Task.WhenAll(replies).WaitAsync(cancellationToken).ConfigureAwait(false);
        var grants = new FleetGrant[deltas.Count];
        for (var i = 0; i < grants.Length; i++)
        {
            var reply = (RedisResult[])replies[i].Result!;
            grants[i] = new FleetGrant(deltas[i].Rule, deltas[i].Key, Number(reply[0]), Number(reply[1]), Number(reply[2]));
        }

        return grants;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await _redis.DisposeAsync().ConfigureAwait(false);

    private static double Number(RedisResult value) => double.Parse((string)value!, NumberStyles.Float, CultureInfo.InvariantCulture);
}
