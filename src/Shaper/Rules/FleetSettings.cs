namespace Shaper.Rules;

/// <summary>
/// The <c>[fleet]</c> section: the Redis store shared by the hosts of a fleet, this host's name in it, how often it
/// exchanges its hits with the store, and the fleet's size (each host's share of a limit while the store is
/// unreachable).
/// </summary>
public sealed record FleetSettings
{
    /// <summary>Fewest milliseconds between syncs.</summary>
    public static readonly TimeSpan MinSync = TimeSpan.FromMilliseconds(10);

    /// <summary>Most time between syncs.</summary>
    public static readonly TimeSpan MaxSync = TimeSpan.FromSeconds(60);

    /// <summary>Most hosts a fleet may name.</summary>
    public const int MaxHosts = 10_000;

    /// <summary>A StackExchange.Redis configuration string: one endpoint, or several for a Redis Cluster.</summary>
    public string Redis { get; init; } = "";

    /// <summary>This host's name in the fleet; "" means the machine's host name.</summary>
    public string Host { get; init; } = "";

    /// <summary>How often this host exchanges its hits with the store.</summary>
    public TimeSpan Sync { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The fleet's size: while the store is unreachable each host enforces limit ÷ hosts.</summary>
    public int Hosts { get; init; } = 1;

    /// <summary>
    /// A store call that takes longer than this counts as slow in the circuit breaker's slow-call rate; null: derived
    /// from <see cref="Sync"/> (<see cref="Fleet.BreakerOptions.DefaultSlowCall"/>).
    /// </summary>
    public TimeSpan? SlowCall { get; init; }

    /// <summary>Where the section starts in the file.</summary>
    public SourceLocation Location { get; init; }

    /// <summary>The name this host uses in the store: <see cref="Host"/>, or the machine's host name.</summary>
    public string EffectiveHost => Host.Length > 0 ? Host : Environment.MachineName;
}
